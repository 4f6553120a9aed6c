"""An S3-compatible server on loopback (moto's), for tests of S3 stores and repositories."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


@contextmanager
def serve_s3(bucket: str = "climaflow-test") -> Iterator[dict[str, Any]]:
    """Serve S3 on 127.0.0.1 with one empty ``bucket``; yield the storage options (obstore's
    keys) that reach it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=CREDENTIALS["access_key_id"],
            aws_secret_access_key=CREDENTIALS["secret_access_key"],
            region_name=CREDENTIALS["region"],
        ).create_bucket(Bucket=bucket)
        yield {**CREDENTIALS, "aws_endpoint": endpoint, "client_options": {"allow_http": True}}
    finally:
        server.stop()

"""Plain HTTP clients for the tests: urllib and http.client, independent of the server code."""

import http.client
import threading
import urllib.error
import urllib.request

from climaflow.testing import LoopbackServer


def fetch(url: str, range_header: str | None = None, timeout: float = 5.0, method: str = "GET"):
    """(status, headers, body) of one request with urllib."""
    headers = {"Range": range_header} if range_header else {}
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def raw_get(server: LoopbackServer, path: str) -> tuple[int, bytes]:
    """GET a raw, un-normalised path with http.client."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("LoopbackServer")]

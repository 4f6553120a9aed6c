"""obstore's client and retry options, built from ``dask.config`` keys under ``climaflow.io``.

Retries are obstore's own (object_store's ``RetryConfig``): 5xx, 408 and 429 answers,
connection errors, dropped connections and timed-out reads are retried with exponential
backoff and jitter, up to ``max-retries`` extra attempts and no later than
``retry-timeout-seconds`` after the first attempt. Other 4xx answers are not retried, and
``Retry-After`` headers are ignored (the backoff alone decides the wait).

The options are read when a store is opened, so on a Dask worker they are the worker's
configuration.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from climaflow import config

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig


def _seconds(key: str) -> timedelta:
    return timedelta(seconds=float(config.get(f"io.{key}")))


def retry_config() -> RetryConfig:
    """obstore's retry configuration from ``climaflow.io.*``.

    Returns
    -------
    RetryConfig
        ``max_retries`` from ``max-retries``; ``retry_timeout`` (the total deadline) from
        ``retry-timeout-seconds``; the backoff starts at ``backoff-seconds`` and each next wait
        is drawn between it and twice the previous one, at most ``max-backoff-seconds``.
    """
    return {
        "max_retries": int(config.get("io.max-retries")),
        "retry_timeout": _seconds("retry-timeout-seconds"),
        "backoff": {
            "init_backoff": _seconds("backoff-seconds"),
            "max_backoff": _seconds("max-backoff-seconds"),
            "base": 2,
        },
    }


def client_options(url: str) -> ClientConfig:
    """obstore's HTTP client options for ``url``.

    Returns
    -------
    ClientConfig
        ``timeout`` (one attempt, from connecting to the end of the body) from
        ``climaflow.io.timeout-seconds``, and ``allow_http`` for ``http://`` URLs (obstore
        refuses plain HTTP otherwise).
    """
    options: ClientConfig = {"timeout": _seconds("timeout-seconds")}
    if url.startswith("http://"):
        options["allow_http"] = True
    return options

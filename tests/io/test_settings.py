"""obstore's retry and client options come from ``climaflow.io.*`` in dask.config."""

from datetime import timedelta

import dask.config

from climaflow.io import settings


def test_retry_config_follows_dask_config():
    keys = {
        "climaflow.io.max-retries": 7,
        "climaflow.io.backoff-seconds": 0.25,
        "climaflow.io.max-backoff-seconds": 4,
        "climaflow.io.retry-timeout-seconds": 30,
    }
    with dask.config.set(keys):
        config = settings.retry_config()
    assert config == {
        "max_retries": 7,
        "retry_timeout": timedelta(seconds=30),
        "backoff": {
            "init_backoff": timedelta(seconds=0.25),
            "max_backoff": timedelta(seconds=4),
            "base": 2,
        },
    }


def test_client_options_allow_plain_http_only_for_http_urls():
    with dask.config.set({"climaflow.io.timeout-seconds": 5}):
        assert settings.client_options("http://host/a") == {
            "timeout": timedelta(seconds=5),
            "allow_http": True,
        }
        assert settings.client_options("https://host/a") == {"timeout": timedelta(seconds=5)}

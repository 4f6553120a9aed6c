"""One exception for every failed read or write outside the process: :class:`DownloadError`.

obstore's exceptions carry object_store's whole error text (the full URL, query string
included, and a debug dump); :func:`as_download_error` keeps only the reason and names the
URL without query string, user info or fragment.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from obstore.exceptions import BaseError, NotFoundError

from climaflow.io.urls import redact_url

_STATUS = re.compile(r"status code: (\d{3})(?: ([^:\n]+))?")
_RETRIES = re.compile(r"after (\d+) retries")
_HTTP_KIND = re.compile(r"HttpError \{\s*kind: (\w+)")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"',)]+")

#: What object_store's kinds of transport error mean, in a run report.
_HTTP_KINDS = {
    "Timeout": "timed out",
    "Connect": "could not connect",
    "Request": "connection lost before an answer",
    "Interrupted": "connection lost while receiving the body",
    "Decode": "could not decode the answer",
}


class DownloadError(Exception):
    """A source could not be fetched (or written); the message names the URL and the reason.

    ``not_found`` tells a missing object (HTTP 404, no such key or path) from other failures.
    """

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


def describe(error: BaseException, url: str = "") -> str:
    """A one-line reason for ``error``, e.g. ``"HTTP 503 Service Unavailable (gave up after
    5 attempts)"``, ``"timed out (gave up after 4 attempts)"`` or ``"not found (HTTP 404)"``.

    The retry count comes from obstore's message: obstore gave up after that many retries
    (``max-retries``, or fewer when ``retry-timeout-seconds`` ran out first).
    """
    text = str(error)
    if isinstance(error, FileNotFoundError | NotFoundError):
        return "not found (HTTP 404)" if url.startswith(("http://", "https://")) else "not found"
    if status := _STATUS.search(text):
        reason = " ".join(filter(None, ("HTTP", status[1], status[2])))
    elif (kind := _HTTP_KIND.search(text)) and kind[1] in _HTTP_KINDS:
        reason = _HTTP_KINDS[kind[1]]
    else:
        first_line = text.splitlines()[0] if text else ""
        reason = f"{type(error).__name__}: {_URL.sub(lambda m: redact_url(m[0]), first_line)}"
    if (retries := _RETRIES.search(text)) and int(retries[1]) > 0:
        reason += f" (gave up after {int(retries[1]) + 1} attempts)"
    return reason


def as_download_error(error: BaseException, url: str) -> DownloadError:
    """``error`` as a :class:`DownloadError` naming the redacted ``url`` and the reason."""
    return DownloadError(
        f"{redact_url(url)}: {describe(error, url)}",
        not_found=isinstance(error, FileNotFoundError | NotFoundError),
    )


@contextmanager
def reported_as_download_error(url: str) -> Iterator[None]:
    """Turn obstore's and the operating system's errors inside the block into a
    :class:`DownloadError` about ``url`` (chained to the original error)."""
    try:
        yield
    except (BaseError, OSError) as error:
        raise as_download_error(error, url) from error

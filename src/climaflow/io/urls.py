"""Small helpers for source URLs."""

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """``url`` without query string, fragment or user info: signed URLs carry secrets there.

    >>> redact_url("https://user:pw@host/a/b.grib2?X-Amz-Signature=abc")
    'https://host/a/b.grib2'
    """
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:  # a local path (or a Windows drive letter)
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

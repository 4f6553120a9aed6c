"""The dashboard pages the docs send users to render (HTTP 200) on the pinned distributed,
after a graph shaped like a region job's (task groups depending on other groups)."""

import re
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from dask import delayed

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = re.compile(r"\(`(/[a-z][a-z/.-]*)`\)")


def pages_in_docs() -> list[str]:
    """Dashboard paths the docs name as "(`/page`)"."""
    found = {
        page
        for path in [*DOCS.rglob("*.md"), *DOCS.rglob("*.ipynb")]
        for page in PAGE.findall(path.read_text())
    }
    return sorted(found)


def test_the_docs_name_dashboard_pages():
    assert "/status" in pages_in_docs()


def stage(value: int, *_: int) -> int:
    time.sleep(0.1)
    return value


def status_of(url: str) -> int:
    try:
        status: int = urllib.request.urlopen(url, timeout=60).status
    except urllib.error.HTTPError as error:
        status = error.code
    return status


@pytest.mark.parametrize("page", pages_in_docs())
def test_a_dashboard_page_the_docs_name_renders(client, page):
    """Asked while a graph shaped like region jobs runs (groups depending on groups), and
    after it."""
    token = uuid.uuid4().hex[:6]
    downloads = [
        delayed(stage)(i, dask_key_name=("download-example", f"job#{token}", i)) for i in range(8)
    ]
    writes = [
        delayed(stage)(i, *downloads, dask_key_name=(f"reformat-var_{i}", f"job#{token}"))
        for i in range(2)
    ]
    futures = client.compute(writes)
    base = client.dashboard_link.rsplit("/", 1)[0]
    statuses = []
    while not all(future.done() for future in futures):
        statuses.append(status_of(base + page))
        time.sleep(0.1)
    client.gather(futures)
    statuses.append(status_of(base + page))
    assert set(statuses) == {200}, f"{page} answers {statuses}: do not send users there"

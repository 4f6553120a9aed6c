"""Every Python example of the docs: names resolve, clusters are started under a
``__main__`` guard, and the examples marked to run do run (offline)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = "<!-- runs in the tests (tests/test_docs.py) -->"
BLOCK = re.compile(r"(?P<marker><!--[^\n]*-->\n)?```python\n(?P<code>.*?)```", re.S)
#: Calls that start worker processes here (a Client or cluster_client given an address does not).
STARTS_A_CLUSTER = re.compile(r"\b(Client|cluster_client)\((?!\s*[\"'])|\bLocalCluster\(")
GUARD = 'if __name__ == "__main__":'


def examples() -> list[tuple[str, str, bool]]:
    """(where, code, runs) of every ``python`` block of the README and docs."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for i, match in enumerate(BLOCK.finditer(path.read_text())):
            where = f"{path.relative_to(ROOT)}#{i}"
            found.append((where, match["code"], (match["marker"] or "").strip() == RUNS))
    return found


EXAMPLES = examples()


def test_the_docs_have_examples_and_some_run():
    assert len(EXAMPLES) > 20
    assert sum(runs for _, _, runs in EXAMPLES) >= 4


@pytest.mark.parametrize(("where", "code", "runs"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_an_example_s_names_resolve(where, code, runs):
    compile(code, where, "exec")
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F821,F811", "--output-format",
         "concise", "--stdin-filename", "example.py", "-"],
        input=code, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert check.returncode == 0, f"{where}: {check.stdout}{check.stderr}"


@pytest.mark.parametrize(("where", "code", "runs"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_an_example_that_starts_a_cluster_guards_it(where, code, runs):
    guard = code.find(GUARD)
    for start in STARTS_A_CLUSTER.finditer(code):
        assert 0 <= guard < start.start(), (
            f"{where} starts worker processes outside a __main__ guard: as a script it would "
            "start them again in every worker"
        )


RUNNABLE = [e for e in EXAMPLES if e[2]]


@pytest.mark.parametrize(("where", "code", "runs"), RUNNABLE, ids=[e[0] for e in RUNNABLE])
def test_an_example_marked_to_run_runs(where, code, runs, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, (
        f"{where} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
    )


@pytest.mark.slow
def test_the_docs_site_builds_without_warnings(tmp_path):
    """``make docs``: the API reference from the docstrings, the guides and the gallery drawn by
    the build itself; mkdocs' strict mode makes every warning (a broken link, a docstring
    griffe cannot parse) an error."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    site = tmp_path / "site"
    assert (
        "climaflow.reformat.runner.reformat"
        in (site / "api" / "reformat" / "index.html").read_text()
    )
    for image in ("normal-map-july", "normal-annual-cycle", "normal-difference", "forecast-map"):
        assert (site / "gallery" / f"{image}.png").stat().st_size > 10_000

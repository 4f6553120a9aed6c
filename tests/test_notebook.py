"""docs/examples/quickstart.ipynb runs top to bottom without errors in this environment."""

import json
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "quickstart.ipynb"


@pytest.fixture
def python3_kernel(tmp_path, monkeypatch) -> str:
    """A ``python3`` kernel spec that runs this interpreter (the venv with climaflow).

    A ``python3`` spec found elsewhere (a user's ``~/.local/share/jupyter``, a system
    install) may start another Python; one written here, first on ``JUPYTER_PATH``, wins.
    """
    data_dir = tmp_path / "jupyter"
    write_kernel_spec(data_dir / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(data_dir))
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable, spec.argv
    return "python3"


def test_notebook_is_saved_with_its_outputs_and_maps():
    """A preview (GitHub, nbviewer) shows what a run shows: ``make notebook`` saves it."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 3  # the store's map, the normal's map and its annual cycle


@pytest.mark.slow
def test_quickstart_notebook_runs(python3_kernel, tmp_path, monkeypatch):
    # The kernel inherits TMPDIR: the notebook's tempfile.mkdtemp() work directory (archives,
    # stores, normals) lands under tmp_path instead of accumulating in the system temp dir.
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(work))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name=python3_kernel,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError if any cell raises
    elapsed = time.perf_counter() - start

    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, errors
    text = "\n".join(_output_text(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "temperature_2m" in text
    assert "failed files: []" in text
    assert "same as the pipeline's file: True" in text
    print(f"quickstart.ipynb ran in {elapsed:.1f} s")


def _output_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(json.dumps(output.data.get("text/plain", "")))
    return "\n".join(parts)

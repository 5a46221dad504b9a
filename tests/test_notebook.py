"""examples/quickstart.ipynb, executed in a real Jupyter kernel (nbclient + ipykernel): every
cell runs, the curves come out as a PNG, the history is printed, and the report it names is
written. The kernel's matplotlib backend is the one Jupyter chose, before and after."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
SRC = Path(__file__).resolve().parents[1] / "src"


def _text(cell) -> str:
    return "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs
    )


@pytest.mark.slow
def test_the_quickstart_notebook_runs_in_a_jupyter_kernel(tmp_path, monkeypatch):
    # the kernel is another process: it imports this checkout's classicnets, on one thread
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    backend = nbformat.v4.new_code_cell(
        "import matplotlib, sys; print('backend', matplotlib.rcParams['backend'], "
        "'pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')"
    )
    notebook.cells = [backend, *notebook.cells, backend.copy()]
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()

    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert _text(code[0]) == _text(code[-1])  # the backend, untouched by train and plot
    pngs = [
        base64.b64decode(o["data"]["image/png"])
        for c in code
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG")  # run.plot(), shown once
    history = next(_text(c) for c in code if "run.history" in c.source)
    assert "'split': 'test'" in history and "'accuracy':" in history
    assert _text(next(c for c in code if "run.model" in c.source)).strip() == "'MLP'"
    page = _text(next(c for c in code if "classicnets.report" in c.source)).strip()
    assert page == "runs/quickstart/report.html"
    assert (tmp_path / page).is_file() and "<html" in (tmp_path / page).read_text()

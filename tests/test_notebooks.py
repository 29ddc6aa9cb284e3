"""Every notebook in notebooks/ (jupytext percent-format .py) runs top to bottom without an error.

Each is converted to .ipynb in build/notebooks/ (open those in Jupyter) and executed
there with a fresh kernel; their own asserts check what they show.
"""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="install the notebooks extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
BUILD = ROOT / "build" / "notebooks"


def test_the_notebooks_are_all_there():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_quickstart", "02_your_own_models", "03_intersections_and_hidden_units", "04_benchmark",
                     "05_many_units"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    notebook = jupytext.read(path)
    BUILD.mkdir(parents=True, exist_ok=True)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(BUILD)}}).execute()
    jupytext.write(notebook, BUILD / f"{path.stem}.ipynb")
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors

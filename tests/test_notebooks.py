"""The notebooks are all there and are written for pytest's nbmake run (see conftest.py)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["01_quickstart", "02_your_own_models", "03_intersections_and_hidden_units", "04_benchmark",
         "05_many_units"]


def test_every_notebook_is_there_and_converted_for_the_run():
    assert [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9]*.py"))] == NAMES
    assert sorted(p.stem for p in (ROOT / "build" / "notebooks").glob("*.ipynb")) == NAMES

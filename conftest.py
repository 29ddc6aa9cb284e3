"""Before collection: write each notebook of notebooks/ (jupytext percent-format .py) as build/notebooks/*.ipynb.

A plain ``python3 -m pytest`` (no paths given) also collects build/notebooks, which nbmake (``--nbmake`` in
pyproject's pytest options) runs, each notebook on a fresh kernel in its own directory; open the same files in
Jupyter. With pytest-xdist (``-n 2`` in pyproject's options) the main process writes the notebooks before its
workers start, and each worker collects them too.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
BUILD = ROOT / "build" / "notebooks"


def pytest_configure(config):
    import jupytext

    if not hasattr(config, "workerinput"):  # the main process writes them; pytest-xdist's workers only collect
        BUILD.mkdir(parents=True, exist_ok=True)
        for stale in BUILD.glob("*.ipynb"):
            stale.unlink()
        for path in NOTEBOOKS:
            jupytext.write(jupytext.read(path), BUILD / f"{path.stem}.ipynb")
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS and str(BUILD) not in config.args:
        config.args.append(str(BUILD))  # the whole suite: the notebooks too

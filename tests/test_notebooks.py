"""The notebooks: each one checks what it shows, and the README names them all (nbmake runs them; see conftest.py)."""

from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))


def test_every_notebook_asserts_what_it_shows_and_the_readme_lists_it():
    readme = (ROOT / "README.md").read_text()
    assert len(NOTEBOOKS) == 6
    for path in NOTEBOOKS:
        cells = jupytext.read(path).cells
        code = [c.source for c in cells if c.cell_type == "code"]
        assert any(c.cell_type == "markdown" for c in cells) and code, path.name
        # nbmake fails a notebook only on an exception: each must check its results, not just print them
        assert any("assert " in source for source in code), f"{path.name} checks nothing it shows"
        assert f"`{path.stem}`" in readme, f"README.md does not list {path.stem}"

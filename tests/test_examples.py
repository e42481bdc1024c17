"""Every gallery example in ``examples/`` runs, prints its numbers and makes a figure."""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_makes_a_figure(path, capsys):
    text = path.read_text()
    lines = text.lstrip().splitlines()
    assert lines[0] == '"""' and set(lines[2]) == {"="} and len(lines[2]) >= len(lines[1]), "title block"
    assert "# %%" in text
    namespace = runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip(), "prints its numbers"
    assert any(isinstance(v, Figure) for v in namespace.values()), "makes a figure"

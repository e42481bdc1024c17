"""Every gallery example is a test: each script in ``examples/`` runs, makes a figure, and prints numbers that
agree with the ground truth it was built from.

Each script runs in its own Python process (Agg backend, a fresh temporary directory as working directory,
as ``__main__``, as sphinx-gallery runs it), sharing the package's numba cache with the rest of the suite. The
checks are the truths each example was simulated from, or exact identities, with stated tolerances — not the
numbers a run happened to print.

The whole file runs every example (about 45 s of CPU on two cores with a warm numba cache; the Bayesian and
the Dask examples are the slowest, 6-12 s each). ``pytest -m "not gallery"`` leaves it out of a quick local
run; CI runs it.
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").rglob("plot_*.py"), key=lambda p: p.name)

# Runs the script as __main__ (as sphinx-gallery does) and reports how many figures it made (counted as
# they are created: a script's plt.show() may close them).
RUNNER = (
    "import runpy, sys\n"
    "import matplotlib\n"
    "matplotlib.use('Agg')\n"
    "from matplotlib.figure import Figure\n"
    "made = []\n"
    "init = Figure.__init__\n"
    "def counted(self, *args, **kwargs):\n"
    "    made.append(1)\n"
    "    init(self, *args, **kwargs)\n"
    "Figure.__init__ = counted\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
    "print(f'figures made: {len(made)}')\n"
)


def number(out: str, label: str) -> float:
    """The number printed after ``label:`` (the last such line), e.g. ``median w: 0.688``."""
    found = re.findall(rf"^{re.escape(label)}:\s*([-+0-9.eE]+|inf|nan|True|False)", out, re.M)
    assert found, f"no line '{label}: <number>' in the output:\n{out}"
    value = found[-1]
    if value in ("True", "False"):
        return float(value == "True")
    return float(value)


def check_01(out: str) -> None:
    # cue A is rewarded on 80 % of trials, 1.5 s after onset: at asymptote the cue predicts the discounted
    # expected reward, below 0.8 and well above 0
    assert 0.5 < number(out, "late cue RPE") < 0.85


def check_02(out: str) -> None:
    assert number(out, "omission dip") < -0.5  # an omitted, fully predicted reward: a dip near -1
    assert number(out, "blocking ratio") < 0.2  # B learns (almost) nothing after A+ pretraining
    # cue response proportional to reward probability: slope near 1 (discounted by the cue-reward delay)
    assert 0.7 < number(out, "cue RPE slope per unit probability") <= 1.0


def check_03(out: str) -> None:
    steps = dict(re.findall(r"(\d\.\d): (\d+)", out.split("steps to max error < 0.05:")[1].splitlines()[0]))
    assert set(steps) == {"0.0", "0.5", "0.9"}, out
    assert int(steps["0.9"]) < int(steps["0.5"]) < int(steps["0.0"])  # traces speed up learning, in order
    assert number(out, "trace speed-up") > 1.3


def check_04(out: str) -> None:
    assert abs(number(out, "median w") - 0.7) < 0.15  # the cohort was simulated with w = 0.7
    assert re.search(r"^best by AIC: daw-hybrid$", out, re.M)  # the generating model


def check_05(out: str) -> None:
    # the replay is the likelihood's own loop: sum of -log p_choice is the fitted NLL to rounding
    assert number(out, "max |replayed NLL - fitted NLL|") < 1e-8
    assert number(out, "mean outcome delta on rewarded trials") > 0


def check_06(out: str) -> None:
    # the synthetic recording is 1.5 * delta + noise and delta = value_rpe - action_term
    assert abs(number(out, "group beta value_rpe") - 1.5) < 0.25
    assert abs(number(out, "group beta action_term") + 1.5) < 0.3


def check_07(out: str) -> None:
    assert number(out, "identical action_pe under swapped rewards") == 1.0  # value-free
    assert number(out, "action_pe early") > 0.4  # pi0 starts uniform over two actions: 1 - 0.5
    assert float(re.search(r"late: ([-0-9.e]+)", out).group(1)) < 0.05  # habitual
    # a novel cue's default policy is still uniform: exactly 1 - 1/2
    assert number(out, "action_pe at the first novel cue") == pytest.approx(0.5, abs=1e-3)


def check_08(out: str) -> None:
    assert number(out, "exact composition error") < 1e-8  # exact on deterministic first-exit tasks
    assert number(out, "composed learnt values, error to Q*") < 0.1


def check_09(out: str) -> None:
    line = out.split("recovery r:")[1].splitlines()[0]
    r = {k: float(v) for k, v in re.findall(r"(\w+) ([-0-9.]+)", line)}
    assert r["alpha"] > 0.85 and r["tau"] > 0.8, r
    assert number(out, "model recovery, mean diagonal") > 0.7


def check_10(out: str) -> None:
    # the bandit file was written from alpha_pos = 0.5, alpha_neg = 0.15; the go/no-go file from go_bias = 1
    assert abs(number(out, "median alpha_pos") - 0.5) < 0.1
    assert abs(float(re.search(r"alpha_neg: ([-0-9.]+)", out).group(1)) - 0.15) < 0.1
    assert abs(number(out, "median go_bias") - 1.0) < 0.4


def check_11(out: str) -> None:
    truth = number(out, "true beta_A")
    assert truth == pytest.approx(
        0.253347 + 1.036433, abs=1e-3
    )  # Phi^-1(0.6) - Phi^-1(0.15), printed to 3 places
    assert abs(number(out, "posterior mean beta_A") - truth) < 0.4
    assert number(out, "P(beta_A > 0)") > 0.95


def check_12(out: str) -> None:
    assert number(out, "max |NLL cluster - NLL local|") < 1e-9  # where a chunk runs does not matter
    assert number(out, "subjects fitted on the cluster") == 40


def check_13(out: str) -> None:
    assert number(out, "final max |Q - Q*|") < 0.1  # tree-backup learns Q* off-policy


def check_14(out: str) -> None:
    # after training the per-state habit equals the policy (soft signals ~0); the shared default policy
    # is the marginal of two opposite choices, about 1/2 each: |action term| near tau log 2 (tau = 0.25)
    line = out.split("mean |action term| after training:")[1].splitlines()[0]
    per_state, marginal = (float(v) for v in re.findall(r"(?:per-state|marginal) ([-0-9.e]+)", line))
    assert per_state < 1e-3
    assert abs(marginal - 0.25 * math.log(2)) < 0.05


def check_15(out: str) -> None:
    slopes = dict(re.findall(r"^slope (\d+)% task: ([-0-9.]+) per s \((?:belief-state)", out, re.M))
    assert float(slopes["100"]) < 0 < float(slopes["90"])  # Starkweather et al. (2017)'s pattern
    csc = [float(v) for v in re.findall(r"^slope \d+% task: ([-0-9.]+) per s \(CSC TD\)", out, re.M)]
    assert len(csc) == 2 and all(abs(v) < 0.05 for v in csc)  # CSC TD: flat in both tasks


def check_16(out: str) -> None:
    # each unit's reversal point is the expectile of its asymmetry (Dabney et al. 2020); the decoded
    # distribution has the true mean (5.208 ul for the 7 magnitudes)
    assert number(out, "largest |reversal point - expectile|") < 0.3
    decoded = float(re.search(r"^decoded mean: ([0-9.]+)", out, re.M).group(1))
    assert abs(decoded - 5.208) < 0.3


CHECKS: dict[str, Callable[[str], None]] = {
    name[len("check_") :]: fn for name, fn in globals().items() if name.startswith("check_")
}


def _id(path: Path) -> str:
    return path.stem


def test_gallery_has_at_least_twelve_examples_each_with_a_title():
    assert len(EXAMPLES) >= 12, [p.name for p in EXAMPLES]
    for path in EXAMPLES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{path.name}: no docstring (sphinx-gallery needs a title)"
        lines = doc.strip().splitlines()
        assert len(lines) >= 4, f"{path.name}: a title and a paragraph saying why"
        title, underline = lines[0], lines[1]
        assert set(underline) == {"="} and len(underline) >= len(title), f"{path.name}: reST title"
        assert "# %%" in path.read_text(encoding="utf-8"), f"{path.name}: no cells"


def test_every_example_has_a_check():
    numbers = {re.match(r"plot_(\d+)_", p.name).group(1) for p in EXAMPLES}
    assert numbers == set(CHECKS), "each example needs a check_NN here, and each check an example"


def test_number_parser_reads_what_examples_print():
    out = "median w: 0.688\nP(beta_A > 0): 1.000\nidentical: True\nsteps: inf\nx: -1.2e-05"
    assert number(out, "median w") == 0.688
    assert number(out, "P(beta_A > 0)") == 1.0
    assert number(out, "identical") == 1.0
    assert math.isinf(number(out, "steps"))
    assert number(out, "x") == -1.2e-05
    with pytest.raises(AssertionError):
        number(out, "missing")


@pytest.mark.gallery
@pytest.mark.parametrize("script", EXAMPLES, ids=_id)
def test_example_runs_and_its_numbers_hold(script, tmp_path):
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    run = subprocess.run(
        [sys.executable, "-c", RUNNER, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{script.name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert number(run.stdout, "figures made") >= 1, f"{script.name} made no figure"
    # sphinx-gallery runs a script in its own source folder: whatever it writes there would land in the repository
    assert not any(tmp_path.iterdir()), (
        f"{script.name} wrote {sorted(p.name for p in tmp_path.iterdir())} where it ran"
    )
    CHECKS[re.match(r"plot_(\d+)_", script.name).group(1)](run.stdout)

"""``dopasoft demo --quick`` writes every figure and table, and reports where.

Its run time is measured by running the full demo (see docs/performance.md), not asserted here.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dopasoft.cli import main  # noqa: E402
from dopasoft.cli.demo import run_demo  # noqa: E402

FIGURES = (
    "rpe_transfer",
    "blocking",
    "probability_scaling",
    "two_step_stay",
    "recovery",
    "model_comparison",
    "posterior_predictive",
    "composition",
    "recorded_vs_model",
    "action_prediction",
    "convergence",
    "reward_timing",
    "distributional_rpe",
)
TABLES = (
    "two_step_data",
    "true_params",
    "fits_soft-q-lambda+kappa",
    "fits_soft-q-lambda-uncorrected+kappa",
    "model_comparison",
    "stay_probabilities",
    "stay_regression",
    "stay_regression_pooled",
    "recovery",
    "parameters",
    "probability_scaling",
    "conditioning_blocking",
    "posterior_predictive",
    "composition_curves",
    "replay_signals",
    "synthetic_recording",
    "neural_glm",
    "action_prediction",
    "convergence_curves",
    "reward_timing_slopes",
    "distributional_units",
)


def test_quick_demo_writes_figures_and_tables(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--quick", "--out", str(out), "--format", "png,svg"])  # --quiet: no summary either
    assert code == 0
    for name in FIGURES:
        for ext in ("png", "svg"):
            path = out / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
    for name in TABLES:
        assert (out / f"{name}.csv").is_file(), name
    printed = capsys.readouterr().err  # the summary goes to stderr, with the progress bar
    assert str(out.resolve()) in printed and "two_step_stay" in printed
    comparison = pd.read_csv(out / "model_comparison.csv")
    assert set(comparison["model"]) == {"soft-q-lambda+kappa", "soft-q-lambda-uncorrected+kappa"}
    assert comparison["protected_exceedance"].sum() == pytest.approx(1.0)
    # the replay is the generating model's likelihood loop: -log p_choice sums to each fitted NLL
    sig = pd.read_csv(out / "replay_signals.csv", dtype={"subject": str})
    fits = pd.read_csv(out / "fits_soft-q-lambda+kappa.csv", dtype={"subject": str}).set_index("subject")
    summed = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(summed[fits.index], fits["nll"], rtol=1e-9)
    glm = pd.read_csv(out / "neural_glm.csv").query("level == 'group'").set_index("term")
    assert glm.loc["action_term", "ci_high"] < 0 < glm.loc["value_rpe", "ci_low"]  # a delta recording
    slopes = pd.read_csv(out / "reward_timing_slopes.csv").set_index("p_reward")["slope_per_s"]
    assert slopes[1.0] < 0 < slopes[0.9]  # Starkweather et al. 2017: the sign flips with omissions
    units = pd.read_csv(out / "distributional_units.csv")
    assert np.corrcoef(units["asymmetry"], units["reversal_point"])[0, 1] > 0.9  # optimists reverse higher
    data = pd.read_csv(out / "two_step_data.csv")
    assert data["subject"].nunique() == 8 and len(data) == 8 * 100


def test_demo_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="at least 3 subjects"):
        run_demo(tmp_path, quick=True, n_subjects=2, progress=False)
    with pytest.raises(ValueError, match="at least two models"):
        run_demo(tmp_path, quick=True, models=["soft-q-lambda"], progress=False)
    assert main(["demo", "--quick", "--out", str(tmp_path), "--format", "jpg"]) == 2

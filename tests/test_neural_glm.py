"""The neural GLM (dopasoft.analysis.neural_glm) on synthetic recordings with known coefficients."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from test_figures import check_figure  # noqa: E402  (the project's figure checks: labels, overlaps)

import dopasoft as ds  # noqa: E402
from dopasoft.analysis import neural_glm  # noqa: E402
from dopasoft.experiments import make_two_step_agent  # noqa: E402
from dopasoft.tasks import TwoStepTask  # noqa: E402

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

SIGNALS = ["delta", "value_rpe", "action_term"]


@pytest.fixture(scope="module")
def soft_q_signals() -> pd.DataFrame:
    """Replay-like table of real Soft Q(lambda) agents on the two-step task (8 subjects x 120 trials).

    Subjects differ in learning rate and temperature, so the action term varies and is not a
    rescaled copy of the value RPE.
    """
    rng = np.random.default_rng(2024)
    parts = []
    for subject in range(8):
        params = {"alpha": rng.uniform(0.3, 0.7), "tau": rng.uniform(0.2, 0.5), "lam": 0.9}
        res = ds.simulate(make_two_step_agent("soft-q-lambda", params), TwoStepTask(), 120, seed=subject)
        steps = res.steps.assign(subject=subject + 1, trial=res.steps["trial"] + 1)
        parts.append(steps[["subject", "trial", "stage", "state", "action", "reward", *SIGNALS]])
    return pd.concat(parts, ignore_index=True)


def outcome(signals: pd.DataFrame) -> pd.DataFrame:
    return signals[signals["stage"] == 2].reset_index(drop=True)


def recording(stage2: pd.DataFrame, slopes: dict[str, float], seed: int, noise: float = 0.5) -> pd.DataFrame:
    """y = 0.3 + subject baseline + sum_k slope_k * signal_k + Gaussian noise, one row per trial."""
    rng = np.random.default_rng(seed)
    baseline = rng.normal(0.0, 0.4, stage2["subject"].max() + 1)[stage2["subject"].to_numpy()]
    y = 0.3 + baseline + rng.normal(0.0, noise, len(stage2))
    for name, slope in slopes.items():
        y = y + slope * stage2[name].to_numpy()
    return pd.DataFrame({"subject": stage2["subject"], "trial": stage2["trial"], "y": y})


def row(coef: pd.DataFrame, level: str, term: str, subject=None) -> pd.Series:
    sel = (coef["level"] == level) & (coef["term"] == term)
    if subject is not None:
        sel &= coef["subject"] == subject
    assert sel.sum() == 1
    return coef[sel].iloc[0]


# ------------------------------------------------------------------------------------------------
# per-subject OLS against a plain least-squares oracle


def test_subject_ols_equals_hand_least_squares():
    rng = np.random.default_rng(3)
    n = 25
    signals = pd.DataFrame(
        {
            "subject": np.repeat(["a", "b"], n),
            "trial": np.tile(np.arange(1, n + 1), 2),
            "delta": rng.normal(size=2 * n),
        }
    )
    baseline = np.where(signals["subject"] == "a", 0.0, 2.0)
    neural = signals[["subject", "trial"]].assign(
        y=1.0 + baseline - 0.7 * signals["delta"] + rng.normal(0, 0.3, 2 * n)
    )
    neural.loc[3, "y"] = np.nan  # a lost trial: dropped, counted
    res = neural_glm(signals, neural, "y ~ delta", alpha=0.1)
    assert res.n_dropped == 1
    assert list(res.coefficients.columns) == [
        "level",
        "subject",
        "term",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "p",
        "n",
    ]
    for subj in ("a", "b"):
        keep = (signals["subject"] == subj) & neural["y"].notna()
        x = np.column_stack([np.ones(keep.sum()), signals.loc[keep, "delta"]])
        y = neural.loc[keep, "y"].to_numpy()
        beta = np.linalg.solve(x.T @ x, x.T @ y)
        dof = len(y) - 2
        s2 = np.sum((y - x @ beta) ** 2) / dof
        se = np.sqrt(np.diag(s2 * np.linalg.inv(x.T @ x)))
        q = stats.t.ppf(0.95, dof)  # alpha = 0.1: two-sided 90 % interval
        for k, term in enumerate(["Intercept", "delta"]):
            got = row(res.coefficients, "subject", term, subj)
            assert got["estimate"] == pytest.approx(beta[k], rel=1e-10)
            assert got["se"] == pytest.approx(se[k], rel=1e-10)
            assert got["ci_low"] == pytest.approx(beta[k] - q * se[k], rel=1e-10)
            assert got["ci_high"] == pytest.approx(beta[k] + q * se[k], rel=1e-10)
            assert got["p"] == pytest.approx(2 * stats.t.sf(abs(beta[k] / se[k]), dof), rel=1e-8)
            assert got["n"] == len(y)
    group = row(res.coefficients, "group", "delta")
    assert pd.isna(group["subject"]) and group["n"] == 2 * n - 1
    assert "y ~ delta" in res.summary() and "1 dropped" in res.summary()


def test_group_model_on_the_boundary_warns():
    # no subject differences at all: the random-intercept variance is estimated at 0
    rng = np.random.default_rng(0)
    signals = pd.DataFrame({"subject": np.repeat([1, 2, 3], 50), "trial": np.tile(np.arange(50), 3)})
    signals["delta"] = rng.normal(size=150)
    neural = signals[["subject", "trial"]].assign(y=2.0 * signals["delta"] + rng.normal(0, 0.1, 150))
    with pytest.warns(RuntimeWarning, match="group mixed model did not converge cleanly"):
        res = neural_glm(signals, neural)
    assert not res.group_converged and res.group_warnings
    assert "NOT converged" in res.summary()


def test_other_grouping_column():
    rng = np.random.default_rng(1)
    signals = pd.DataFrame({"animal": np.repeat(["m1", "m2", "m3"], 40), "trial": np.tile(np.arange(40), 3)})
    signals["delta"] = rng.normal(size=120)
    base = signals["animal"].map({"m1": 0.0, "m2": 1.0, "m3": -1.0})
    neural = signals[["animal", "trial"]].assign(y=base + 0.5 * signals["delta"] + rng.normal(0, 0.2, 120))
    res = neural_glm(signals, neural, groups="animal")
    assert list(res.coefficients.columns[:2]) == ["level", "animal"]
    assert sorted(res.coefficients["animal"].dropna().unique()) == ["m1", "m2", "m3"]
    g = res.coefficients.query("level == 'group' and term == 'delta'").iloc[0]
    assert g["ci_low"] < 0.5 < g["ci_high"]
    with pytest.raises(ValueError, match=r"signals table lacks column\(s\) \['subject'\]"):
        neural_glm(signals, neural)


def test_one_subject_has_no_group_model():
    rng = np.random.default_rng(0)
    signals = pd.DataFrame({"subject": 1, "trial": np.arange(30), "delta": rng.normal(size=30)})
    neural = signals[["subject", "trial"]].assign(y=signals["delta"] + rng.normal(0, 0.1, 30))
    res = neural_glm(signals, neural)
    assert res.group_fit is None and set(res.coefficients["level"]) == {"subject"}


# ------------------------------------------------------------------------------------------------
# recovery of known coefficients, over seeds


# a seed whose drawn subject baselines barely differ puts the random-intercept variance near 0 and
# the group model warns (seed 29 here); its CIs still count towards the coverage
@pytest.mark.filterwarnings("ignore:neural_glm. the group mixed model:RuntimeWarning")
def test_coefficients_recovered_within_their_cis(soft_q_signals):
    stage2 = outcome(soft_q_signals)
    truth = {"Intercept": 0.3, "value_rpe": 1.5, "action_term": -0.8}
    n_seeds = 40
    group_hits = {term: 0 for term in truth}
    subject_hits = subject_total = 0
    for seed in range(n_seeds):
        neural = recording(stage2, {"value_rpe": 1.5, "action_term": -0.8}, seed)
        res = neural_glm(soft_q_signals, neural, "y ~ value_rpe + action_term", stage=2)
        coef = res.coefficients
        for term, value in truth.items():
            g = row(coef, "group", term)
            group_hits[term] += g["ci_low"] <= value <= g["ci_high"]
        subj = coef[(coef["level"] == "subject") & (coef["term"] != "Intercept")]
        want = subj["term"].map(truth)
        subject_hits += int(((subj["ci_low"] <= want) & (want <= subj["ci_high"])).sum())
        subject_total += len(subj)
    for term, hits in group_hits.items():
        assert hits / n_seeds >= 0.9, (term, hits)
    assert subject_hits / subject_total >= 0.9
    # and the intervals are informative, not just wide: the last fit pins value_rpe to +-0.3
    g = row(coef, "group", "value_rpe")
    assert g["ci_high"] - g["ci_low"] < 0.6


def test_random_slopes_recover_the_mean_slope(soft_q_signals):
    stage2 = outcome(soft_q_signals)
    hits = 0
    for seed in range(10):
        rng = np.random.default_rng(1000 + seed)
        slope = 1.0 + rng.normal(0.0, 0.4, 9)  # per-subject slopes around the group mean 1.0
        neural = recording(stage2, {}, seed)
        neural["y"] += slope[stage2["subject"].to_numpy()] * stage2["delta"].to_numpy()
        res = neural_glm(soft_q_signals, neural, "y ~ delta", stage=2, random_slopes=True)
        g = row(res.coefficients, "group", "delta")
        subj = res.coefficients.query("level == 'subject' and term == 'delta'")
        # the group estimate is the mixed model's, close to the mean of the subjects' OLS slopes
        assert g["estimate"] == pytest.approx(subj["estimate"].mean(), abs=0.1)
        hits += g["ci_low"] <= slope[1:].mean() <= g["ci_high"]
        assert list(res.group_fit.cov_re.index) == ["Intercept", "delta"]
    assert hits >= 9


# ------------------------------------------------------------------------------------------------
# the soft theory's split: value RPE vs delta = value_rpe - action_term


def test_value_rpe_and_delta_recordings_are_told_apart(soft_q_signals):
    stage2 = outcome(soft_q_signals)
    # real model signals: the action term is not collinear with the value RPE
    assert abs(np.corrcoef(stage2["value_rpe"], stage2["action_term"])[0, 1]) < 0.5
    np.testing.assert_allclose(stage2["delta"], stage2["value_rpe"] - stage2["action_term"], atol=1e-12)
    scale = 1.5
    from_value = recording(stage2, {"value_rpe": scale}, seed=7)
    from_delta = recording(stage2, {"delta": scale}, seed=7)
    formula = "y ~ value_rpe + action_term"
    a = neural_glm(soft_q_signals, from_value, formula, stage=2).coefficients
    b = neural_glm(soft_q_signals, from_delta, formula, stage=2).coefficients
    a_term, b_term = row(a, "group", "action_term"), row(b, "group", "action_term")
    assert a_term["ci_low"] <= 0.0 <= a_term["ci_high"] and a_term["ci_low"] > -scale
    assert b_term["ci_low"] <= -scale <= b_term["ci_high"] and b_term["ci_high"] < 0.0
    assert not (a_term["ci_low"] <= b_term["estimate"] <= a_term["ci_high"])
    for coef in (a, b):
        v = row(coef, "group", "value_rpe")
        assert v["ci_low"] <= scale <= v["ci_high"]
    # subject by subject, the delta recording's action term is below 0 in (nearly) every subject
    subj = b.query("level == 'subject' and term == 'action_term'")
    assert (subj["ci_high"] < 0).mean() >= 0.75


def test_plot_and_summary(soft_q_signals):
    stage2 = outcome(soft_q_signals)
    neural = recording(stage2, {"value_rpe": 1.0, "action_term": -1.0}, seed=1)
    res = neural_glm(soft_q_signals, neural, "y ~ value_rpe + action_term", stage=2)
    fig = res.plot()
    axes = check_figure(fig, 2)
    # terms in words and symbols, not code names
    assert [ax.get_title() for ax in axes] == ["state-value RPE", "action term τ log π/π0"]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["Group"]
    fig = ds.analysis.plot_neural_glm(res, terms=["Intercept"])
    check_figure(fig, 1)
    with pytest.raises(ValueError, match=r"unknown term\(s\) \['delta'\]"):
        res.plot(terms=["delta"])
    text = res.summary()
    assert "8 subject(s), 960 trials" in text and "action_term" in text


# ------------------------------------------------------------------------------------------------
# bad input: one clear message


def _tables():
    rng = np.random.default_rng(5)
    signals = pd.DataFrame(
        {
            "subject": np.repeat([1, 2], 10),
            "trial": np.tile(np.arange(1, 11), 2),
            "delta": rng.normal(size=20),
            "value_rpe": rng.normal(size=20),
            "action_term": rng.normal(size=20),
        }
    )
    signals["delta"] = signals["value_rpe"] - signals["action_term"]
    neural = signals[["subject", "trial"]].assign(y=rng.normal(size=20))
    return signals, neural


@pytest.mark.parametrize(
    ("change", "formula", "pattern"),
    [
        (lambda s, n: (s, n), "y ~ rpe", r"formula column 'rpe' is in neither signals nor neural"),
        (lambda s, n: (s, n.rename(columns={"y": "dff"})), "y ~ delta", r"neural table has no column 'y'"),
        (lambda s, n: (s, n), "dff ~ delta", r"neural table has no column 'dff'"),
        (
            lambda s, n: (s.drop(columns="subject"), n),
            "y ~ delta",
            r"signals table lacks column\(s\) \['subject'\]",
        ),
        (
            lambda s, n: (s, n.assign(trial=n["trial"] + 100)),
            "y ~ delta",
            r"no \(subject, trial\) of the neural",
        ),
        (lambda s, n: (s, n.assign(subject=n["subject"].astype(str))), "y ~ delta", r"subject"),
        (
            lambda s, n: (s.assign(delta=np.where(s["subject"] == 2, 0.0, s["delta"])), n),
            "y ~ delta",
            r"regressor 'delta' is constant for subject 2 \(all 0\)",
        ),
        (
            lambda s, n: (s, n),
            "y ~ delta + value_rpe + action_term",
            r"collinear for subject 1",
        ),
        (lambda s, n: (s.assign(value_rpe=np.nan), n), "y ~ value_rpe", r"column 'value_rpe' has no value"),
        (
            lambda s, n: (s[s["trial"] <= 2], n),
            "y ~ delta",
            r"subject 1 has 2 usable trial\(s\) for 2 coefficients",
        ),
        (
            lambda s, n: (s, pd.concat([n, n.iloc[[3]]])),
            "y ~ delta",
            r"neural, subject 1, row 3: a second row",
        ),
        (lambda s, n: (s, n), "y delta", r"formula 'y delta'"),
        (lambda s, n: (s, n), "y ~ 1", r"has no model signal"),
    ],
)
def test_bad_input(change, formula, pattern):
    signals, neural = change(*_tables())
    with pytest.raises(ValueError, match=pattern):
        neural_glm(signals, neural, formula)


def test_bad_stage_and_options():
    signals, neural = _tables()
    two_stage = pd.concat([signals.assign(stage=1), signals.assign(stage=2)], ignore_index=True)
    with pytest.raises(
        ValueError, match=r"signals, subject 1, row 20: a second row for trial 1; pick the stage"
    ):
        neural_glm(two_stage, neural)
    assert len(neural_glm(two_stage, neural, stage=2).coefficients) == 6
    with pytest.raises(ValueError, match="signals have no rows of stage 3"):
        neural_glm(two_stage, neural, stage=3)
    with pytest.raises(ValueError, match="no 'stage' column"):
        neural_glm(signals, neural, stage=2)
    with pytest.raises(ValueError, match="alpha must be in"):
        neural_glm(signals, neural, alpha=1.5)
    with pytest.raises(ValueError, match=r"random_slopes .* unknown: \['rpe'\]"):
        neural_glm(signals, neural, random_slopes=["rpe"])

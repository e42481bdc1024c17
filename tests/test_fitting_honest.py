"""Honest fits: ``converged``, ``at_bound``, standard errors, subjects with no choices, default bounds.

Ground truth here is computed plainly in the tests: natural-scale finite-difference Hessians of the
NLL, unconstrained-scale gradients through transforms written out by hand, and hand-made data.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F
from dopasoft.analysis import model_fit_figures as mff
from dopasoft.analysis import model_fits as mf
from dopasoft.fitting import optimizer, parameters

# ----------------------------------------------------------------------------------------------
# plain helpers (no package code beyond the likelihood itself)


def _nll_at(model, data, subject, theta):
    """NLL of one subject at natural parameters ``theta`` (one likelihood call)."""
    tr = F.to_transitions(data[data["subject"] == subject])
    return float(model.nll_pairs(tr, np.array([0], np.int64), np.asarray(theta, float)[None])[0])


def _natural_hessian(f, theta, idx, h=1e-4):
    """Central-difference Hessian of ``f`` in the coordinates ``idx`` of ``theta``."""
    k = len(idx)
    hess = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            ea = np.zeros(len(theta))
            eb = np.zeros(len(theta))
            ea[idx[a]] = h
            eb[idx[b]] = h
            hess[a, b] = (
                f(theta + ea + eb) - f(theta + ea - eb) - f(theta - ea + eb) + f(theta - ea - eb)
            ) / (4 * h * h)
    return hess


def _bandit(choices, rewards, subject="s"):
    n = len(choices)
    return pd.DataFrame(
        {"subject": subject, "trial": np.arange(1, n + 1), "choice": choices, "reward": rewards}
    )


# ----------------------------------------------------------------------------------------------
# item 4: a subject with no valid choices


@pytest.fixture(scope="module")
def bandit_with_empty():
    model = F.get_model("soft-q")
    true = pd.DataFrame({"subject": ["a", "b", "c"], "alpha": [0.3, 0.5, 0.4], "tau": [0.2, 0.3, 0.25]})
    data = F.simulate_choices(model, true, n_trials=80, seed=4, task="bandit")
    data.loc[data["subject"] == "b", "choice"] = np.nan  # every choice of 'b' missing
    return model, data


def test_subject_without_choices_is_nan_not_converged_and_named(bandit_with_empty):
    model, data = bandit_with_empty
    with pytest.warns(UserWarning, match=r"subject\(s\) 'b' have no valid choices"):
        res = F.fit(data, model, n_starts=3, seed=1)
    p = res.params.set_index("subject")
    assert p.loc["b", "n_choices"] == 0
    for col in ("alpha", "tau", "nll", "nlp", "aic", "bic", "se_alpha", "se_tau"):
        assert np.isnan(p.loc["b", col]), col
    assert not p.loc["b", "converged"] and not p.loc["b", "at_bound"]
    assert p.loc["b", "notes"] == "no valid choices"
    assert (res.starts.loc[res.starts["subject"] == "b", "stop"] == "no_choices").all()
    # the other subjects' fits are exactly those without the empty subject
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = F.fit(data[data["subject"] != "b"], model, n_starts=3, seed=1).params
    pd.testing.assert_frame_equal(p.drop(index="b").reset_index(), alone)
    # the summary leaves it out and says so
    text = res.summary()
    assert "2 subjects" in text and "1 subject(s) with no valid choices left out" in text
    assert f"total NLL {alone['nll'].sum():.3f}" in text


def test_two_step_subject_without_choices(bandit_with_empty):
    model = F.get_model("soft-q-lambda")
    data = F.simulate_choices(
        model, pd.DataFrame({"alpha": [0.4, 0.4], "tau": [0.2, 0.2], "lam": [0.5, 0.5]}), n_trials=40
    )
    data.loc[data["subject"] == "sub001", ["choice1", "choice2"]] = np.nan
    with pytest.warns(UserWarning, match="'sub001'"):
        p = F.fit(data, model, n_starts=2).params
    assert np.isnan(p.loc[1, ["alpha", "tau", "lam", "nll"]].to_numpy(float)).all()
    assert not p.loc[1, "converged"] and p.loc[0, "converged"]


def test_group_tables_and_figures_leave_out_subjects_without_fit(bandit_with_empty):
    model, data = bandit_with_empty
    with pytest.warns(UserWarning):
        fits = F.fit(data, model, n_starts=2, seed=1).params.assign(model="soft-q")
    ok = fits[fits["subject"] != "b"]
    table = mf.parameter_table(fits).set_index("param")
    assert table.loc["alpha", "n"] == 2 and table.loc["alpha", "n_left_out"] == 1
    assert table.loc["tau", "mean"] == pytest.approx(ok["tau"].mean())
    # model comparison: the subject without a fit in one table is compared in none
    other = ok.assign(nll=ok["nll"] + 1.0, aic=ok["aic"] + 2.0, bic=ok["bic"] + 2.0)
    other = pd.concat([other, fits[fits["subject"] == "b"]], ignore_index=True)
    comp, _ = mf.compare_models({"m1": fits, "m2": other})
    comp = comp.set_index("model")
    assert (comp["n_subjects"] == 2).all() and (comp["n_left_out"] == 1).all()
    assert comp.loc["m1", "bic"] == pytest.approx(ok["bic"].sum())
    assert comp.loc["m2", "delta_bic"] == pytest.approx(4.0)
    # recovery tables (analysis and fitting) count what they leave out
    true = pd.DataFrame({"subject": ["a", "b", "c"], "alpha": [0.3, 0.5, 0.4], "tau": [0.2, 0.3, 0.25]})
    rec = mf.recovery_table(true, fits, ["alpha"]).iloc[0]
    assert rec["n"] == 2 and rec["n_left_out"] == 1
    rec2 = F.recovery_table(true, fits, ["alpha", "tau"]).set_index("param")
    assert (rec2["n"] == 2).all() and (rec2["n_left_out"] == 1).all()
    assert rec2.loc["tau", "bias"] == pytest.approx(np.mean(ok["tau"].to_numpy() - [0.2, 0.25]))
    # figures draw two subjects and say one was left out
    fig = mff.plot_parameters(fits)
    assert any("1 subject(s) without a fit" in t.get_text() for t in fig.texts)
    assert len(fig.axes[0].collections[0].get_offsets()) == 2
    fig = mff.plot_recovery(true, fits, ["alpha"])
    assert any("1 subject(s) without a fit" in t.get_text() for t in fig.texts)


def test_hierarchical_leaves_out_subjects_without_choices(bandit_with_empty):
    model, data = bandit_with_empty
    with pytest.warns(UserWarning, match="'b'"):
        res = F.fit_hierarchical(data, model, n_starts=2, max_iter=3)
    p = res.params.set_index("subject")
    assert np.isnan(p.loc["b", ["alpha", "tau", "nll", "log_evidence"]].to_numpy(float)).all()
    assert not p.loc["b", "converged"]
    assert "1 with no valid choices left out" in res.summary()


# ----------------------------------------------------------------------------------------------
# item 8: converged means the optimiser's own criterion


@pytest.fixture(scope="module")
def bandit_cohort():
    model = F.get_model("soft-q")
    true = pd.DataFrame({"alpha": [0.25, 0.4, 0.6, 0.35], "tau": [0.15, 0.25, 0.2, 0.3]})
    return model, F.simulate_choices(model, true, n_trials=300, seed=11, task="bandit")


def _z_gradient(model, data, subject, theta, lo, h=1e-6):
    """Gradient of the NLL in z (logit for alpha in (0, 1), log(tau - lo) for tau), plainly."""
    a, t = theta
    z = np.array([math.log(a / (1 - a)), math.log(t - lo)])

    def nll_z(zz):
        return _nll_at(model, data, subject, [1 / (1 + math.exp(-zz[0])), lo + math.exp(zz[1])])

    g = np.zeros(2)
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        g[j] = (nll_z(z + e) - nll_z(z - e)) / (2 * h)
    return g


def test_converged_fits_meet_the_gradient_criterion(bandit_cohort):
    model, data = bandit_cohort
    res = F.fit(data, model, n_starts=4, prior={})
    lo = model.default_bounds()["tau"][0]
    assert res.params["converged"].all()
    for _, row in res.params.iterrows():
        g = _z_gradient(model, data, row["subject"], row[["alpha", "tau"]].to_numpy(float), lo)
        # |g| < gtol, or < 10 gtol when no further decrease was possible (plus difference error)
        assert np.max(np.abs(g)) < optimizer.SMALL_CHANGE_GTOL_FACTOR * 1e-4 + 1e-6, (row["subject"], g)


def test_fit_stopped_early_is_not_converged(bandit_cohort):
    model, data = bandit_cohort
    res = F.fit(data, model, n_starts=2, prior={}, maxiter=2)
    p = res.params
    assert not p["converged"].any()
    assert (res.starts["stop"].isin(["maxiter", "merged"])).all() and (res.starts["stop"] == "maxiter").any()
    assert p["notes"].str.startswith("not converged (maxiter").all()
    lo = model.default_bounds()["tau"][0]
    # and indeed it is not at a stationary point
    for _, row in p.iterrows():
        g = _z_gradient(model, data, row["subject"], row[["alpha", "tau"]].to_numpy(float), lo)
        assert np.max(np.abs(g)) > 1e-3
    with pytest.raises(ValueError, match="maxiter must be a non-negative integer"):
        F.fit(data, model, maxiter=-1)


class _Kinked:
    """A toy objective for the optimiser: ``0.01 |z0 − 1| + (z1 + 2)²`` (minimum at a kink, where the
    gradient is ±0.01 — 100 gtol, below the 1000 gtol that used to count as converged) or smooth."""

    has_grad = True

    def __init__(self, kink: bool):
        self.kink = kink

    def value_and_grad(self, subj, z):
        if self.kink:
            g0 = 0.01 * np.sign(z[:, 0] - 1)
            return 0.01 * np.abs(z[:, 0] - 1) + (z[:, 1] + 2) ** 2, np.stack([g0, 2 * (z[:, 1] + 2)], 1)
        return (z[:, 0] - 1) ** 2 + (z[:, 1] + 2) ** 2, np.stack([2 * (z[:, 0] - 1), 2 * (z[:, 1] + 2)], 1)

    def __call__(self, subj, z):
        return self.value_and_grad(subj, z)[0]


def test_stall_away_from_a_stationary_point_is_not_converged():
    z0 = np.array([[3.3, 0.7], [-2.1, 0.1]])
    subj = np.arange(2, dtype=np.int64)
    smooth = optimizer._bfgs(_Kinked(False), subj, z0)
    assert smooth.converged.all() and (np.abs(smooth.z - [1, -2]) < 1e-3).all()
    kinked = optimizer._bfgs(_Kinked(True), subj, z0)
    # it gets to the kink but the gradient there never vanishes: stalled, not converged
    assert (np.abs(kinked.z[:, 0] - 1) < 1e-3).all()
    assert not kinked.converged.any()
    assert all(optimizer.STOP_REASONS[s] == "stalled" for s in kinked.stop)


# ----------------------------------------------------------------------------------------------
# item 8: standard errors and at_bound


def test_standard_errors_are_the_inverse_natural_hessian(bandit_cohort):
    model, data = bandit_cohort
    for maxiter in (200, 4):  # at the optimum, and at a point that is not one (maxiter 4)
        p = F.fit(data, model, n_starts=2, prior={}, maxiter=maxiter).params
        assert not p["at_bound"].any()
        for _, row in p.iterrows():
            th = row[["alpha", "tau"]].to_numpy(float)
            hess = _natural_hessian(lambda x, s=row["subject"]: _nll_at(model, data, s, x), th, [0, 1])
            se = np.sqrt(np.diag(np.linalg.inv(hess)))
            np.testing.assert_allclose(row[["se_alpha", "se_tau"]].to_numpy(float), se, rtol=1e-3)


def test_parameter_at_a_bound_has_nan_se_and_the_others_condition_on_it():
    model = F.get_model("soft-q-lambda")
    true = pd.DataFrame({"alpha": [0.4], "tau": [0.15], "lam": [0.0]})
    data = F.simulate_choices(model, true, n_trials=200, seed=6)
    row = F.fit(data, model, n_starts=5, prior={}).params.iloc[0]
    assert row["lam"] == 0.0 and row["at_bound"] and row["converged"]
    assert np.isnan(row["se_lam"]) and "lam at lower bound 0" in row["notes"]
    th = row[["alpha", "tau", "lam"]].to_numpy(float)
    hess = _natural_hessian(lambda x: _nll_at(model, data, "sub000", x), th, [0, 1])
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    np.testing.assert_allclose(row[["se_alpha", "se_tau"]].to_numpy(float), se, rtol=1e-3)


def test_win_stay_lose_shift_subject_is_flagged_at_bound():
    # a deterministic win-stay/lose-shift player: the likelihood keeps rising towards alpha = 1, tau = 0
    rng = np.random.default_rng(0)
    choices, rewards = [0], []
    for t in range(120):
        r = float(rng.uniform() < (0.8 if choices[-1] == (t // 40) % 2 else 0.2))
        rewards.append(r)
        choices.append(choices[-1] if r else 1 - choices[-1])
    data = _bandit(choices[:-1], rewards)
    model = F.get_model("soft-q")
    ml = F.fit(data, model, n_starts=4, prior={}).params.iloc[0]
    lo_tau = model.default_bounds()["tau"][0]
    assert ml["at_bound"] and ml["tau"] == lo_tau and ml["alpha"] == 1.0
    assert "tau at lower bound 0.02" in ml["notes"] and np.isnan(ml["se_tau"])
    # the old bounds (tau > 0) let it run off to beta of millions
    old = F.fit(data, model, n_starts=4, prior={}, bounds={"tau": (0.0, np.inf)}).params.iloc[0]
    assert 1 / old["tau"] > 1e3 and old["at_bound"]
    # the default weak prior holds the temperature inside (alpha = 1 is what this player does)
    default = F.fit(data, model, n_starts=4).params.iloc[0]
    assert default["notes"] == "alpha at upper bound 1" and default["alpha"] == 1.0
    assert 0.03 < default["tau"] < 0.5 and np.isfinite(default["se_tau"])


# ----------------------------------------------------------------------------------------------
# near-deterministic subjects: default bounds and the default prior


def test_default_temperature_bounds_and_domain():
    tau = {p.name: p for p in F.get_model("soft-q-lambda").params}["tau"]
    assert (tau.lower, tau.upper) == (0.02, math.inf)
    assert tau.domain == (0.0, math.inf) and tau.in_domain(1e-6)  # the likelihood accepts any tau > 0
    beta = {p.name: p for p in F.get_model("daw-hybrid").params}["beta1"]
    assert (beta.lower, beta.upper) == (0.0, 50.0) and beta.in_domain(1e3)


def test_default_prior_is_weak_tied_to_the_bounds_and_optional(bandit_cohort):
    model, data = bandit_cohort
    pr = parameters.default_prior(model)
    assert pr == {"tau": (pytest.approx(math.log(0.18)), 1.5)}  # median tau = 0.2 = 10 x lower bound
    assert parameters.default_prior(model, bounds={"tau": (2.0, math.inf)})["tau"][0] == pytest.approx(
        math.log(18.0)
    )
    assert parameters.default_prior(model, fixed={"tau": 0.2}) == {}
    assert parameters.default_prior(model, bounds={"tau": (0.0, math.inf)}) == {}
    hyb = parameters.default_prior("daw-hybrid-4")
    assert hyb == {"beta": (pytest.approx(-math.log(9.0)), 1.5)}  # logit(beta / 50), median 5
    res = F.fit(data, model, n_starts=2)
    assert res.prior == pr and "nlp" in res.params.columns
    z = np.log(res.params["tau"] - 0.02)
    neg_log_prior = (z - math.log(0.18)) ** 2 / (2 * 1.5**2) + math.log(1.5) + 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(res.params["nlp"] - res.params["nll"], neg_log_prior, atol=1e-8)
    ml = F.fit(data, model, n_starts=2, prior={})
    assert ml.prior == {} and "nlp" not in ml.params.columns and "maximum likelihood" in ml.summary()
    # weak: on informative data it moves estimates little
    np.testing.assert_allclose(res.params["tau"], ml.params["tau"], rtol=0.1)


def test_near_deterministic_cohort_recovers_with_the_defaults():
    """Fast version of benchmarks/recovery_temperature.py: 24 bandit subjects, true beta <= 10."""
    model = F.get_model("soft-q")
    rng = np.random.default_rng(5)
    beta = rng.uniform(1, 10, 24)
    true = pd.DataFrame({"alpha": rng.uniform(0.6, 0.95, 24), "tau": 1 / beta})
    data = F.simulate_choices(model, true, n_trials=200, seed=rng, task="bandit")
    old = F.fit(data, model, n_starts=4, prior={}, bounds={"tau": (0.0, np.inf)}).params
    new = F.fit(data, model, n_starts=4).params
    assert (1 / old["tau"] > 1e3).any()  # today's bounds: some run off
    assert (new["tau"] >= 0.02).all() and not new["notes"].str.contains("tau at").any()
    r_new = np.corrcoef(beta, 1 / new["tau"])[0, 1]
    r_old = np.corrcoef(beta, 1 / old["tau"])[0, 1]
    assert r_new >= 0.75 and r_new > r_old + 0.2, (r_new, r_old)

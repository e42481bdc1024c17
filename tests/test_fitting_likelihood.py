"""Likelihoods of every fitting model equal plain per-trial oracles (docs/fitting.md §1–2, hBayesDM Stan)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import (
    daw_hybrid_oracle,
    hbayesdm_ts_oracle,
    random_two_step,
    softq_two_step_oracle,
    to_hbayesdm,
)
from ulps import REPLAY_ULPS, assert_close_ulps

import dopasoft.fitting as F
from dopasoft.fitting.data import write_hbayesdm
from dopasoft.fitting.mle import negative_log_likelihood

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
}


@pytest.fixture(scope="module")
def simulated():
    m = F.get_model("soft-q-lambda", kappa=True)
    pars = F.sample_parameters(m, 4, np.random.default_rng(3))
    return F.simulate_choices(m, pars, n_trials=80, seed=4)


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize("kappa", [0.0, 0.7])
def test_soft_q_lambda_matches_oracle(name, kappa, simulated):
    p = dict(alpha=0.35, tau=0.4, lam=0.6)
    model = F.get_model(name, kappa=bool(kappa))
    if kappa:
        p["kappa"] = kappa
    for df in (simulated, random_two_step(seed=1), random_two_step(seed=2, missing=0.15)):
        got = negative_log_likelihood(df, model, p)
        want = softq_two_step_oracle(df, trace=TRACES[name], **p)
        np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", list(TRACES))
def test_separate_stage_parameters_match_oracle(name):
    df = random_two_step(seed=5, missing=0.05)
    model = F.get_model(name, separate_alpha=True, separate_tau=True, kappa=True, gamma=0.9)
    p = dict(alpha1=0.2, alpha2=0.6, tau1=0.3, tau2=0.8, lam=0.7, kappa=-0.4)
    got = negative_log_likelihood(df, model, p)
    want = softq_two_step_oracle(
        df, alpha=0.2, alpha2=0.6, tau=0.3, tau2=0.8, lam=0.7, kappa=-0.4, gamma=0.9, trace=TRACES[name]
    )
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), atol=1e-9)


def test_soft_q_is_lambda_zero():
    df = random_two_step(seed=6)
    a = negative_log_likelihood(df, "soft-q", dict(alpha=0.3, tau=0.5))
    b = negative_log_likelihood(df, "soft-q-lambda", dict(alpha=0.3, tau=0.5, lam=0.0))
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_soft_q_lambda_replays_the_public_learner(simulated):
    """Replaying data through ds.SoftQLambda gives the same likelihood (one kernel for both)."""
    import dopasoft as ds

    g = simulated[simulated["subject"] == simulated["subject"].iloc[0]]
    agent = ds.SoftQLambda(3, 2, alpha=0.3, tau=0.5, lam=0.8)
    nll = 0.0
    for row in g.itertuples():
        c1, s, c2 = int(row.choice1), 1 + int(row.state2), int(row.choice2)
        nll -= np.log(agent.policy(0)[c1])
        agent.update(0, c1, 0.0, s, False)
        nll -= np.log(agent.policy(s)[c2])
        agent.update(s, c2, row.reward, None, True)
    got = negative_log_likelihood(g, "soft-q-lambda", dict(alpha=0.3, tau=0.5, lam=0.8))
    assert abs(got.iloc[0] - nll) < 1e-9


def _random_episodes(n_states, n_actions, n_steps, seed, missing=0.1):
    """One subject's random steps: episodes of random length, self-transitions, missed choices."""
    from dopasoft.fitting.data import _pack

    rng = np.random.default_rng(seed)
    s = rng.integers(0, n_states, n_steps)
    ns = rng.integers(0, n_states, n_steps)
    s[1:] = np.where(rng.uniform(size=n_steps - 1) < 0.8, ns[:-1], s[1:])  # mostly chained
    term = rng.uniform(size=n_steps) < 0.25
    ns = np.where(term, -1, ns)
    a = np.where(rng.uniform(size=n_steps) < missing, -1, rng.integers(0, n_actions, n_steps))
    r = rng.normal(size=n_steps)
    return _pack(
        ["x"],
        [(s, a, r, ns, term, np.arange(1, n_steps + 1))],
        state_stage=np.zeros(n_states, np.int64),
        n_states=n_states,
        n_actions=n_actions,
        task="bandit",
    )


@pytest.mark.parametrize("trace", ["tree-backup", "on-policy", "uncorrected"])
@pytest.mark.parametrize("mode", ["accumulating", "replacing"])
@pytest.mark.parametrize("n_actions", [2, 3])
def test_long_episodes_replay_the_public_learner(trace, mode, n_actions):
    """Episodes longer than a trial: traces span revisits of a state, so the remembered log-sum-exp
    of V(s') must be dropped whenever the traces change that row (checked against ds.SoftQLambda)."""
    import dopasoft as ds

    tr = _random_episodes(4, n_actions, 400, seed=n_actions + 10 * len(mode) + len(trace))
    name = {v: k for k, v in TRACES.items()}[trace]
    model = F.get_model(name, gamma=0.9, trace_mode=mode)
    p = dict(alpha=0.4, tau=0.6, lam=0.9)
    agent = ds.SoftQLambda(4, n_actions, trace=trace, trace_mode=mode, gamma=0.9, **p)
    nll = 0.0
    for t in range(tr.n_steps[0]):
        s, a, term = int(tr.state[0, t]), int(tr.action[0, t]), bool(tr.terminal[0, t])
        if a < 0:
            if term:
                agent.reset_traces()
            continue
        nll -= np.log(agent.policy(s)[a])
        agent.update(s, a, float(tr.reward[0, t]), None if term else int(tr.next_state[0, t]), term)
    theta = np.array([[p[k] for k in model.param_names]])
    got = model.nll_pairs(tr, np.zeros(1, np.int64), theta)[0]
    assert abs(got - nll) < 1e-9
    value, grad = model.nll_grad_pairs(tr, np.zeros(1, np.int64), theta)
    assert abs(value[0] - nll) < 1e-9
    h = 1e-6
    for j in range(model.n_params):  # forward-mode gradient through the same episodes
        e = np.zeros(model.n_params)
        e[j] = h
        num = (
            model.nll_pairs(tr, np.zeros(1, np.int64), theta + e)
            - model.nll_pairs(tr, np.zeros(1, np.int64), theta - e)
        )[0] / (2 * h)
        assert grad[0, j] == pytest.approx(num, rel=1e-6, abs=1e-4)


HYB = dict(alpha1=0.4, beta1=3.0, alpha2=0.6, beta2=2.0, pers=0.8, w=0.35, lam=0.55)


@pytest.mark.parametrize("variant", ["daw-hybrid", "daw-hybrid-6", "daw-hybrid-4"])
def test_hybrid_matches_hbayesdm_stan(variant, simulated, tmp_path):
    for k, df in enumerate((simulated, random_two_step(seed=7))):
        hb = to_hbayesdm(df)
        path = tmp_path / f"ts{k}.txt"
        hb.to_csv(path, sep="\t", index=False)
        data = F.read_hbayesdm(path)
        if variant == "daw-hybrid":
            p = HYB
            want = hbayesdm_ts_oracle(hb, a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=0.55)
        elif variant == "daw-hybrid-6":
            p = {k2: v for k2, v in HYB.items() if k2 != "lam"}
            want = hbayesdm_ts_oracle(hb, a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=1.0)
        else:
            p = dict(alpha=0.4, beta=3.0, pers=0.8, w=0.35)
            want = hbayesdm_ts_oracle(hb, a1=0.4, beta1=3.0, a2=0.4, beta2=3.0, pi=0.8, w=0.35, lam=1.0)
        got = negative_log_likelihood(data, variant, p)
        np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), atol=1e-9)


def test_hybrid_simulated_by_its_own_kernel():
    m = F.get_model("daw-hybrid")
    df = F.simulate_choices(m, HYB, n_subjects=2, n_trials=100, seed=9)
    want = hbayesdm_ts_oracle(to_hbayesdm(df), a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=0.55)
    got = negative_log_likelihood(df, m, HYB)
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), atol=1e-9)


def test_hybrid_missing_second_choice_counts_stage_one_only():
    df = random_two_step(n_subjects=1, n_trials=30, seed=11)
    full = negative_log_likelihood(df, "daw-hybrid", HYB).iloc[0]
    cut = df.copy()
    cut.loc[cut.index[-1], "choice2"] = np.nan  # last trial: no learning afterwards anyway
    part = negative_log_likelihood(cut, "daw-hybrid", HYB).iloc[0]
    assert part < full  # one fewer choice counted
    skipped = df.copy()
    skipped.loc[skipped.index[-1], "choice1"] = np.nan
    assert negative_log_likelihood(skipped, "daw-hybrid", HYB).iloc[0] < part


def test_bandit_soft_q_is_rescorla_wagner_softmax():
    rng = np.random.default_rng(2)
    n = 120
    df = pd.DataFrame(
        {
            "subject": "b1",
            "trial": np.arange(n),
            "choice": rng.integers(3, size=n),
            "reward": rng.integers(2, size=n).astype(float),
        }
    )
    alpha, tau, kappa = 0.3, 0.25, 0.5
    q = np.zeros(3)
    prev, nll = None, 0.0
    for c, r in zip(df["choice"], df["reward"], strict=True):
        z = q / tau + (kappa * (np.arange(3) == prev))
        nll -= z[c] - np.log(np.exp(z - z.max()).sum()) - z.max()
        q[c] += alpha * (r - q[c])
        prev = c
    got = negative_log_likelihood(
        df, F.get_model("soft-q", kappa=True), dict(alpha=alpha, tau=tau, kappa=kappa)
    )
    assert abs(got.iloc[0] - nll) < 1e-9


def test_log_likelihood_per_subject_params_and_errors():
    df = random_two_step(seed=3)
    per = pd.DataFrame(
        {
            "subject": ["s0", "s1", "s2"],
            "alpha": [0.1, 0.5, 0.9],
            "tau": [0.2, 0.5, 1.0],
            "lam": [0.0, 0.5, 1.0],
        }
    )
    got = negative_log_likelihood(df, "soft-q-lambda", per)
    for _, row in per.iterrows():
        one = softq_two_step_oracle(df[df.subject == row.subject], alpha=row.alpha, tau=row.tau, lam=row.lam)
        assert abs(got[row.subject] - one.iloc[0]) < 1e-9
    with pytest.raises(ValueError, match="'alpha'.*outside"):
        negative_log_likelihood(df, "soft-q-lambda", dict(alpha=1.5, tau=0.5, lam=0.5))
    with pytest.raises(ValueError, match="missing parameter"):
        negative_log_likelihood(df, "soft-q-lambda", dict(alpha=0.5, tau=0.5))
    with pytest.raises(ValueError, match="unknown parameter"):
        negative_log_likelihood(df, "soft-q-lambda", dict(alpha=0.5, tau=0.5, lam=0.1, beta=1))
    with pytest.raises(ValueError, match="unknown model"):
        negative_log_likelihood(df, "nope", {})
    with pytest.raises(ValueError, match="no row for subject 's2'"):
        negative_log_likelihood(df, "soft-q-lambda", per.iloc[:2])


def test_hbayesdm_roundtrip(tmp_path, simulated):
    path = tmp_path / "x.txt"
    write_hbayesdm(simulated, path)
    back = F.read_hbayesdm(path)
    cols = ["choice1", "state2", "choice2", "reward"]
    np.testing.assert_array_equal(back[cols].to_numpy(), simulated[cols].to_numpy(dtype=float))


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"kappa": True, "separate_alpha": True, "separate_tau": True, "gamma": 0.9},
        {"trace_mode": "replacing", "kappa": True},
    ],
)
def test_forward_mode_gradient(name, opts):
    """The optimiser's analytic gradient: value equals the likelihood, gradient equals differences."""
    df = random_two_step(seed=3, missing=0.1)
    tr = F.to_transitions(df)
    m = F.get_model(name, **opts)
    th = F.sample_parameters(m, 3, np.random.default_rng(0)).to_numpy()
    subj = np.arange(3)
    f, g = m.nll_grad_pairs(tr, subj, th)
    np.testing.assert_allclose(f, m.nll_pairs(tr, subj, th), atol=1e-9)
    h = 1e-6
    for j in range(m.n_params):
        e = np.zeros(m.n_params)
        e[j] = h
        num = (m.nll_pairs(tr, subj, th + e) - m.nll_pairs(tr, subj, th - e)) / (2 * h)
        np.testing.assert_allclose(g[:, j], num, rtol=1e-6, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# item 9: the Daw hybrid with a missing choice2 in the middle of a sequence (docs/maths.md)


def test_hybrid_missing_second_choice_mid_sequence_matches_oracle():
    df = random_two_step(n_subjects=2, n_trials=40, seed=12)
    df.loc[df.index[10], "choice2"] = np.nan  # s0, trial 11: stage 1 counted, no update
    df.loc[df.index[11], "choice1"] = np.nan  # s0, trial 12: skipped (perseveration keeps trial 11)
    df.loc[df.index[55], "choice2"] = np.nan  # s1, mid-sequence too
    want = daw_hybrid_oracle(df, a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=0.55)
    got = negative_log_likelihood(df, "daw-hybrid", HYB)
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=0, atol=1e-10)
    # the oracle holds on complete data too (it is hBayesDM's ts_par7)
    full = random_two_step(n_subjects=2, n_trials=40, seed=12)
    stan = hbayesdm_ts_oracle(
        to_hbayesdm(full), a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=0.55
    )
    plain = daw_hybrid_oracle(full, a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=0.55)
    np.testing.assert_allclose(plain.to_numpy(), stan.to_numpy(), rtol=0, atol=1e-10)
    # and the rule is not hBayesDM's row deletion (which drops stage 1 of that trial as well)
    dropped = df[df["choice2"].notna()]
    assert np.all(
        np.abs(negative_log_likelihood(dropped, "daw-hybrid", HYB).to_numpy() - got.to_numpy()) > 1e-3
    )


# ----------------------------------------------------------------------------------------------
# item 5/6: parameters, bounds and fixed values are checked against each parameter's domain


def _narrow_tau(model):
    """The model with a default lower bound on tau above the domain's end (as a default may be)."""
    pars = tuple(dataclasses.replace(p, lower=0.05) if p.name == "tau" else p for p in model.params)
    return dataclasses.replace(model, params=pars)


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        (
            dict(alpha=np.nan, tau=0.5, lam=0.5),
            r"params: 'alpha' is missing \(NaN\) for subject 's0'.*\[0, 1\]",
        ),
        (
            dict(alpha=0.5, tau=-1.0, lam=0.5),
            r"params: 'tau' = -1 for subject 's0' is outside its domain \(0, inf\)",
        ),
        (dict(alpha=0.5, tau=0.0, lam=0.5), r"'tau' = 0 for subject 's0' is outside its domain \(0, inf\)"),
        (dict(alpha=0.5, tau=np.inf, lam=0.5), r"'tau' = inf for subject 's0' is outside its domain"),
        (dict(alpha=0.5, tau=0.5, lam=3.0), r"'lam' = 3 for subject 's0' is outside its domain \[0, 1\]"),
        (dict(alpha=0.5, tau=0.5, lam=0.5, beta=2), r"unknown parameter\(s\) \['beta'\]"),
        (dict(alpha="high", tau=0.5, lam=0.5), r"params: 'alpha' must be a number, got 'high'"),
    ],
)
def test_log_likelihood_params_outside_domain(params, pattern):
    with pytest.raises(ValueError, match=pattern):
        negative_log_likelihood(random_two_step(seed=3), "soft-q-lambda", params)


def test_log_likelihood_names_the_subject_and_uses_the_domain_not_default_bounds():
    df = random_two_step(seed=3)
    per = pd.DataFrame(
        {
            "subject": ["s0", "s1", "s2"],
            "alpha": [0.1, 0.5, 0.9],
            "tau": [0.2, -0.5, 1.0],
            "lam": [0.0, 0.5, 1.0],
        }
    )
    with pytest.raises(ValueError, match=r"'tau' = -0.5 for subject 's1' is outside its domain \(0, inf\)"):
        negative_log_likelihood(df, "soft-q-lambda", per)
    # a temperature below a (narrower) default fitting bound is still a valid likelihood argument
    m = _narrow_tau(F.get_model("soft-q-lambda"))
    got = negative_log_likelihood(df, m, dict(alpha=0.3, tau=0.01, lam=0.5))
    want = softq_two_step_oracle(df, alpha=0.3, tau=0.01, lam=0.5)
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=1e-9)
    hyb = dict(HYB, beta1=-1.0)
    with pytest.raises(ValueError, match=r"'beta1' = -1 for subject 's0' is outside its domain \[0, inf\)"):
        negative_log_likelihood(df, "daw-hybrid", hyb)


@pytest.mark.parametrize(
    ("bounds", "pattern"),
    [
        ({"lam": (0, 3)}, r"bounds\['lam'\] = \(0, 3\) is not inside the domain of 'lam', \[0, 1\]"),
        (
            {"alpha": (-0.2, 1)},
            r"bounds\['alpha'\] = \(-0.2, 1\) is not inside the domain of 'alpha', \[0, 1\]",
        ),
        ({"tau": (-1, 5)}, r"bounds\['tau'\] = \(-1, 5\) is not inside the domain of 'tau', \(0, inf\)"),
        ({"alpha": (0, np.inf)}, r"bounds\['alpha'\] = \(0, inf\) is not inside"),
        ({"tau": (np.nan, 5)}, r"bounds\['tau'\]: lower nan must be below upper 5"),
        ({"tau": "0:5"}, r"bounds\['tau'\] must be a pair"),
    ],
)
def test_fit_bounds_must_lie_in_the_domain(bounds, pattern):
    with pytest.raises(ValueError, match=pattern):
        F.fit(random_two_step(n_subjects=1, n_trials=10), "soft-q-lambda", n_starts=1, bounds=bounds)


@pytest.mark.parametrize(
    ("fixed", "pattern"),
    [
        ({"tau": 0}, r"fixed\['tau'\] = 0.0 is outside the domain of 'tau', \(0, inf\)"),
        ({"tau": -1}, r"fixed\['tau'\] = -1.0 is outside the domain of 'tau', \(0, inf\)"),
        ({"lam": 1.5}, r"fixed\['lam'\] = 1.5 is outside the domain of 'lam', \[0, 1\]"),
        ({"alpha": np.nan}, r"fixed\['alpha'\] = nan is outside the domain"),
        ({"alpha": None}, r"fixed\['alpha'\] must be a number, got None"),
    ],
)
def test_fit_fixed_values_must_lie_in_the_domain(fixed, pattern):
    with pytest.raises(ValueError, match=pattern):
        F.fit(random_two_step(n_subjects=1, n_trials=10), "soft-q-lambda", n_starts=1, fixed=fixed)


def test_fixed_and_bounds_use_the_domain_not_the_default_bounds():
    df = random_two_step(n_subjects=1, n_trials=20, seed=5)
    m = _narrow_tau(F.get_model("soft-q-lambda"))
    res = F.fit(df, m, n_starts=1, fixed={"tau": 0.02, "lam": 0.5})
    assert res.params["tau"].iloc[0] == 0.02
    nll = negative_log_likelihood(df, m, dict(alpha=res.params["alpha"].iloc[0], tau=0.02, lam=0.5)).iloc[0]
    assert abs(res.params["nll"].iloc[0] - nll) < 1e-9
    # a bound may reach an open end of the domain (the transforms never evaluate it)
    res = F.fit(df, m, n_starts=1, bounds={"tau": (0.0, 5.0)}, fixed={"lam": 0.5})
    assert 0.0 < res.params["tau"].iloc[0] <= 5.0 and np.isfinite(res.params["nll"].iloc[0])


def test_cli_bound_and_fix_outside_the_domain_exit_2(tmp_path, capsys):
    from dopasoft.cli import main

    data = tmp_path / "d.csv"
    random_two_step(n_subjects=1, n_trials=10).to_csv(data, index=False)
    base = ["fit", str(data), "--model", "soft-q-lambda", "--n-starts", "1", "--quiet", "--out"]
    for k, (opt, pattern) in enumerate(
        [
            (
                ["--bound", "lam=0:3"],
                r"bounds\['lam'\] = \(0, 3\) is not inside the domain of 'lam', \[0, 1\]",
            ),
            (["--bound", "alpha=-1:1"], r"bounds\['alpha'\] = \(-1, 1\) is not inside"),
            (["--fix", "tau=0"], r"fixed\['tau'\] = 0.0 is outside the domain of 'tau', \(0, inf\)"),
        ]
    ):
        out = tmp_path / f"fits{k}.csv"
        assert main([*base, str(out), *opt]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert re.search(pattern, err), err
        assert not out.exists() or pd.read_csv(out).empty


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        (
            dict(alpha=1.5, tau=0.2, lam=0.5),
            r"params: 'alpha' = 1.5 for subject 'sub000' is outside its domain \[0, 1\]",
        ),
        (dict(alpha=np.nan, tau=0.2, lam=0.5), r"'alpha' is missing \(NaN\) for subject 'sub000'"),
        (
            dict(alpha=0.5, tau=-1.0, lam=0.5),
            r"'tau' = -1 for subject 'sub000' is outside its domain \(0, inf\)",
        ),
        (dict(alpha=0.5, tau=0.2, lam=3.0), r"'lam' = 3 for subject 'sub000' is outside its domain \[0, 1\]"),
        (dict(alpha=0.5, tau=0.2, lam=0.5, beta=1.0), r"unknown parameter\(s\) \['beta'\]"),
        (dict(alpha="x", tau=0.2, lam=0.5), r"params: 'alpha' = 'x' for subject 'sub000' is not a number"),
    ],
)
def test_simulate_checks_parameters_as_the_likelihood_does(params, pattern):
    with pytest.raises(ValueError, match=pattern):
        F.simulate_choices("soft-q-lambda", params, n_trials=5, n_subjects=2)


def test_simulate_names_the_subject_of_a_bad_row():
    pars = pd.DataFrame({"subject": ["a", "b"], "alpha": [0.5, 0.5], "tau": [0.2, 0.3], "lam": [0.5, -0.1]})
    with pytest.raises(ValueError, match=r"'lam' = -0.1 for subject 'b' is outside its domain \[0, 1\]"):
        F.simulate_choices("soft-q-lambda", pars, n_trials=5)
    hyb = pd.DataFrame([dict(HYB, w=1.2)])
    with pytest.raises(ValueError, match=r"'w' = 1.2 for subject 'sub000' is outside its domain \[0, 1\]"):
        F.simulate_choices("daw-hybrid", hyb, n_trials=5)


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        (
            "alpha",
            np.nan,
            r"fits.csv, column 'alpha' is missing \(NaN\) for subject 's1'; it must be a number in \[0, 1\]",
        ),
        ("tau", -1.0, r"fits.csv, column 'tau' = -1 for subject 's1' is outside its domain \(0, inf\)"),
        ("lam", 3.0, r"fits.csv, column 'lam' = 3 for subject 's1' is outside its domain \[0, 1\]"),
        ("alpha", "abc", r"fits.csv, column 'alpha' = 'abc' for subject 's1' is not a number"),
    ],
)
def test_figures_refuse_a_fits_table_with_invalid_parameters(tmp_path, capsys, column, value, pattern):
    from dopasoft.cli import main

    data = tmp_path / "data.csv"
    random_two_step(n_subjects=2, n_trials=20).to_csv(data, index=False)
    fits = pd.DataFrame(
        {
            "subject": ["s0", "s1"],
            "alpha": [0.3, 0.4],
            "tau": [0.2, 0.3],
            "lam": [0.5, 0.5],
            "nll": [10.0, 11.0],
            "model": "soft-q-lambda",
        }
    ).astype({column: object})
    fits.loc[1, column] = value
    path = tmp_path / "fits.csv"
    fits.to_csv(path, index=False)
    out = tmp_path / "figs"
    assert main(["figures", str(data), str(path), "--out", str(out), "--format", "png"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(pattern, err), err
    assert not (out / "posterior_predictive.png").exists()


def test_figures_check_skips_subjects_with_nothing_to_fit():
    from dopasoft.cli.figures import _check_fitted_parameters

    m = F.get_model("soft-q-lambda")
    fits = pd.DataFrame(
        {
            "subject": ["s0", "s1"],
            "alpha": [0.3, np.nan],
            "tau": [0.2, np.nan],
            "lam": [0.5, np.nan],
            "nll": [10.0, np.nan],
            "n_choices": [40, 0],
        }
    )
    _check_fitted_parameters(fits, m, "fits.csv")  # s1 had no choices: NaN is its honest result
    fits.loc[1, "n_choices"] = 40
    with pytest.raises(ValueError, match=r"fits.csv, column 'alpha' is missing \(NaN\) for subject 's1'"):
        _check_fitted_parameters(fits, m, "fits.csv")


def test_negative_log_likelihood_is_the_nll_and_the_only_name():
    # two choices between 3 arms, hand-worked: Q = 0 gives P = 1/3; after reward 1 on arm 0 with
    # alpha = 0.5, Q = (0.5, 0, 0) and tau = 0.5 gives P(arm 0) = e / (e + 2)
    df = pd.DataFrame({"subject": "b1", "trial": [0, 1], "choice": [0, 0], "reward": [1.0, 0.0]})
    df2 = df.assign(choice=[0, 2])
    df = F.to_transitions(pd.concat([df, df2.assign(subject="b2")], ignore_index=True), n_actions=3)
    expected = {
        "b1": np.log(3) - (1.0 - np.log(np.e + 2)),
        "b2": np.log(3) - (0.0 - np.log(np.e + 2)),
    }
    got = F.negative_log_likelihood(df, "soft-q", dict(alpha=0.5, tau=0.5))
    for s, v in expected.items():
        assert got[s] == pytest.approx(v, abs=1e-12)
        assert got[s] > 0  # a negative log-likelihood
    assert not hasattr(F, "log_likelihood")  # a name must say its sign (docs/maths.md, "Names")


def test_simulate_choices_is_the_one_name_for_choices_from_a_model():
    import types

    import dopasoft as ds
    from dopasoft.simulation import simulate as loop

    assert ds.simulate is loop  # the agent-environment loop, a different thing
    assert isinstance(ds.fitting.simulate, types.ModuleType)  # the module, no function alias
    assert "simulate" not in F.__all__
    pars = dict(alpha=0.3, tau=0.5, lam=0.5)
    new = F.simulate_choices("soft-q-lambda", pars, n_trials=30, n_subjects=2, seed=5)
    assert list(new.columns[:6]) == ["subject", "trial", "choice1", "state2", "choice2", "reward"]
    assert len(new) == 60
    again = F.simulate_choices("soft-q-lambda", pars, n_trials=30, n_subjects=2, seed=5)
    pd.testing.assert_frame_equal(again, new)  # the same seed gives the same data


@pytest.mark.parametrize("tau", [0.3, 2e-3, 5e-4, 1e-5])
def test_running_product_of_probabilities_is_exact(tau):
    """The replay logs a running product of choice probabilities (docs/maths.md §5): exact against the
    oracle's per-choice logs whether the product is flushed often (long sessions, probabilities near
    1e-100), the probabilities fall below the product's safe range (1e-200) or underflow to 0 in
    floating point (log P(a|s) is then taken from Q(s, .), finite)."""
    df = random_two_step(n_subjects=3, n_trials=600 if tau == 0.3 else 80, seed=11)
    m = F.get_model("soft-q-lambda", kappa=True)
    p = dict(alpha=0.9, tau=tau, lam=0.7, kappa=0.4)
    got = negative_log_likelihood(df, m, p)
    want = softq_two_step_oracle(df, **p)
    assert np.isfinite(got).all()
    assert want.min() > (1e4 if tau < 1e-3 else 100)  # vanishing probabilities were met
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=1e-12, atol=1e-9)
    # the value and the gradient replays accumulate the same products: the same NLL up to the rounding
    # of two compiled specialisations (ulps.REPLAY_ULPS)
    tr = F.to_transitions(df)
    th = np.tile([p["alpha"], p["tau"], p["lam"], p["kappa"]], (tr.n_subjects, 1))
    subj = np.arange(tr.n_subjects, dtype=np.int64)
    value = m.nll_pairs(tr, subj, th)
    assert_close_ulps(m.nll_grad_pairs(tr, subj, th)[0], value, REPLAY_ULPS)

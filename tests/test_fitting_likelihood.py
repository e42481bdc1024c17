"""Likelihoods of every fitting model equal plain per-trial oracles (SPEC §3, hBayesDM Stan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import (
    hbayesdm_ts_oracle,
    random_two_step,
    softq_two_step_oracle,
    to_hbayesdm,
)

import dopasoft.fitting as F
from dopasoft.fitting.data import write_hbayesdm
from dopasoft.fitting.mle import log_likelihood

TRACES = {
    "soft-q-lambda": "tree-backup",
    "soft-q-lambda-on-policy": "on-policy",
    "soft-q-lambda-uncorrected": "uncorrected",
}


@pytest.fixture(scope="module")
def simulated():
    m = F.get_model("soft-q-lambda", kappa=True)
    pars = F.sample_parameters(m, 4, np.random.default_rng(3))
    return F.simulate(m, pars, n_trials=80, seed=4)


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize("kappa", [0.0, 0.7])
def test_soft_q_lambda_matches_oracle(name, kappa, simulated):
    p = dict(alpha=0.35, tau=0.4, lam=0.6)
    model = F.get_model(name, kappa=bool(kappa))
    if kappa:
        p["kappa"] = kappa
    for df in (simulated, random_two_step(seed=1), random_two_step(seed=2, missing=0.15)):
        got = log_likelihood(df, model, p)
        want = softq_two_step_oracle(df, trace=TRACES[name], **p)
        np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", list(TRACES))
def test_separate_stage_parameters_match_oracle(name):
    df = random_two_step(seed=5, missing=0.05)
    model = F.get_model(name, separate_alpha=True, separate_tau=True, kappa=True, gamma=0.9)
    p = dict(alpha1=0.2, alpha2=0.6, tau1=0.3, tau2=0.8, lam=0.7, kappa=-0.4)
    got = log_likelihood(df, model, p)
    want = softq_two_step_oracle(
        df, alpha=0.2, alpha2=0.6, tau=0.3, tau2=0.8, lam=0.7, kappa=-0.4, gamma=0.9, trace=TRACES[name]
    )
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), atol=1e-9)


def test_soft_q_is_lambda_zero():
    df = random_two_step(seed=6)
    a = log_likelihood(df, "soft-q", dict(alpha=0.3, tau=0.5))
    b = log_likelihood(df, "soft-q-lambda", dict(alpha=0.3, tau=0.5, lam=0.0))
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
    got = log_likelihood(g, "soft-q-lambda", dict(alpha=0.3, tau=0.5, lam=0.8))
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
    return _pack(["x"], [(s, a, r, ns, term)], state_stage=np.zeros(n_states, np.int64), n_states=n_states,
                 n_actions=n_actions, task="bandit")  # fmt: skip


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
        num = (model.nll_pairs(tr, np.zeros(1, np.int64), theta + e)
               - model.nll_pairs(tr, np.zeros(1, np.int64), theta - e))[0] / (2 * h)  # fmt: skip
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
        got = log_likelihood(data, variant, p)
        np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), atol=1e-9)


def test_hybrid_simulated_by_its_own_kernel():
    m = F.get_model("daw-hybrid")
    df = F.simulate(m, HYB, n_subjects=2, n_trials=100, seed=9)
    want = hbayesdm_ts_oracle(to_hbayesdm(df), a1=0.4, beta1=3.0, a2=0.6, beta2=2.0, pi=0.8, w=0.35, lam=0.55)
    got = log_likelihood(df, m, HYB)
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), atol=1e-9)


def test_hybrid_missing_second_choice_counts_stage_one_only():
    df = random_two_step(n_subjects=1, n_trials=30, seed=11)
    full = log_likelihood(df, "daw-hybrid", HYB).iloc[0]
    cut = df.copy()
    cut.loc[cut.index[-1], "choice2"] = np.nan  # last trial: no learning afterwards anyway
    part = log_likelihood(cut, "daw-hybrid", HYB).iloc[0]
    assert part < full  # one fewer choice counted
    skipped = df.copy()
    skipped.loc[skipped.index[-1], "choice1"] = np.nan
    assert log_likelihood(skipped, "daw-hybrid", HYB).iloc[0] < part


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
    got = log_likelihood(df, F.get_model("soft-q", kappa=True), dict(alpha=alpha, tau=tau, kappa=kappa))
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
    got = log_likelihood(df, "soft-q-lambda", per)
    for _, row in per.iterrows():
        one = softq_two_step_oracle(df[df.subject == row.subject], alpha=row.alpha, tau=row.tau, lam=row.lam)
        assert abs(got[row.subject] - one.iloc[0]) < 1e-9
    with pytest.raises(ValueError, match="'alpha'.*outside"):
        log_likelihood(df, "soft-q-lambda", dict(alpha=1.5, tau=0.5, lam=0.5))
    with pytest.raises(ValueError, match="missing parameter"):
        log_likelihood(df, "soft-q-lambda", dict(alpha=0.5, tau=0.5))
    with pytest.raises(ValueError, match="unknown parameter"):
        log_likelihood(df, "soft-q-lambda", dict(alpha=0.5, tau=0.5, lam=0.1, beta=1))
    with pytest.raises(ValueError, match="unknown model"):
        log_likelihood(df, "nope", {})
    with pytest.raises(ValueError, match="no row for subject 's2'"):
        log_likelihood(df, "soft-q-lambda", per.iloc[:2])


def test_hbayesdm_roundtrip(tmp_path, simulated):
    path = tmp_path / "x.txt"
    write_hbayesdm(simulated, path)
    back = F.read_hbayesdm(path)
    cols = ["choice1", "state2", "choice2", "reward"]
    np.testing.assert_array_equal(back[cols].to_numpy(), simulated[cols].to_numpy(dtype=float))


@pytest.mark.parametrize("name", list(TRACES))
@pytest.mark.parametrize(
    "opts",
    [{}, {"kappa": True, "separate_alpha": True, "separate_tau": True, "gamma": 0.9},
     {"trace_mode": "replacing", "kappa": True}],
)  # fmt: skip
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

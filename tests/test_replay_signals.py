"""Per-step signals of the likelihood replay (dopasoft.fitting.softq.softq_replay_signals).

Checked against ground truth: the likelihood (sum of -log p_choice is the NLL of every model
variant), ds.SoftQLambda driven step by step over the same choices, a plain two-step oracle written
here from docs/fitting.md §1–2, and the identity delta = value_rpe - action_term.
"""

import math

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step
from ulps import REPLAY_ULPS, assert_close_ulps

import dopasoft as ds
import dopasoft.fitting as F
from dopasoft import kernel
from dopasoft.fitting import softq, softq_policy

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TRACE_NAMES = {
    "tree-backup": "soft-q-lambda",
    "on-policy": "soft-q-lambda-on-policy",
    "uncorrected": "soft-q-lambda-uncorrected",
}


def random_bandit(n_subjects=3, n_trials=80, n_arms=3, n_contexts=2, seed=0, missing=0.1):
    """Random bandit data with contexts, real-valued rewards and missed trials."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for t in range(n_trials):
            c = float(rng.integers(n_arms)) if rng.uniform() >= missing else np.nan
            rows.append((f"b{s}", t + 1, float(rng.integers(n_contexts)), c, float(rng.normal())))
    return pd.DataFrame(rows, columns=["subject", "trial", "state", "choice", "reward"])


def data_args(tr):
    return softq.replay_data(tr)


def replay(tr, model, full):
    return softq.softq_replay_signals(
        *data_args(tr),
        np.ascontiguousarray(full),
        float(model.gamma),
        kernel.TRACE_CODES[model.trace],
        bool(model.replacing),
    )[:6]


def random_full(model, n, seed):
    """One parameter vector per subject (kernel columns), with kappa well away from 0 if free."""
    rng = np.random.default_rng(seed)
    theta = []
    for name in model.param_names:
        if name.startswith("alpha"):
            theta.append(rng.uniform(0.1, 0.9, n))
        elif name.startswith("tau"):
            theta.append(rng.uniform(0.2, 2.0, n))
        elif name == "lam":
            theta.append(rng.uniform(0.2, 1.0, n))
        else:  # kappa
            theta.append(rng.choice([-1.0, 1.0], n) * rng.uniform(0.3, 2.0, n))
    return model.full(np.column_stack(theta))


# (task, trace, options) covering every variant of the replay
CASES = [
    ("two-step", "tree-backup", {}),
    ("two-step", "tree-backup", {"kappa": True, "trace_mode": "replacing"}),
    ("two-step", "on-policy", {"kappa": True, "separate_alpha": True, "gamma": 0.8}),
    ("two-step", "on-policy", {"trace_mode": "replacing", "separate_tau": True}),
    ("two-step", "uncorrected", {"kappa": True, "separate_alpha": True, "separate_tau": True, "gamma": 0.9}),
    ("two-step", "uncorrected", {"trace_mode": "replacing"}),
    ("bandit", "tree-backup", {"kappa": True}),
    ("bandit", "on-policy", {"kappa": True, "trace_mode": "replacing", "gamma": 0.7}),
    ("bandit", "uncorrected", {}),
]


def case_data(task, seed):
    if task == "two-step":
        return F.to_transitions(random_two_step(n_subjects=3, n_trials=50, seed=seed, missing=0.15))
    return F.to_transitions(random_bandit(seed=seed))


@pytest.mark.parametrize(("task", "trace", "opts"), CASES)
def test_minus_log_p_choice_sums_to_the_likelihood(task, trace, opts):
    tr = case_data(task, seed=len(opts) + 3)
    model = F.get_model(TRACE_NAMES[trace], **opts)
    full = random_full(model, tr.n_subjects, seed=len(opts))
    nll, p_choice, delta, value_rpe, action_term, value = replay(tr, model, full)
    want = softq.softq_nll_pairs(
        *data_args(tr),
        np.arange(tr.n_subjects, dtype=np.int64),
        np.ascontiguousarray(full),
        float(model.gamma),
        kernel.TRACE_CODES[model.trace],
        bool(model.replacing),
    )
    assert want.min() > 10.0  # a real likelihood, not an empty sum
    np.testing.assert_allclose(nll, want, rtol=0, atol=1e-10)
    got = np.nansum(-np.log(p_choice), axis=1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    # one p_choice per choice, NaN elsewhere; signals wherever an action was taken
    steps = np.arange(tr.state.shape[1])[None, :] < tr.n_steps[:, None]
    np.testing.assert_array_equal(np.isfinite(p_choice), steps & tr.is_choice)
    for sig in (delta, value_rpe, action_term, value):
        np.testing.assert_array_equal(np.isfinite(sig), steps & (tr.action >= 0))
    if task == "two-step":
        assert ((tr.action < 0) & steps).any()  # the data have missing second-stage choices
    np.testing.assert_allclose(delta, value_rpe - action_term, rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(("task", "trace", "opts"), CASES)
def test_signals_equal_the_public_learner_driven_step_by_step(task, trace, opts):
    tr = case_data(task, seed=11 + len(opts))
    model = F.get_model(TRACE_NAMES[trace], **opts)
    full = random_full(model, tr.n_subjects, seed=5 + len(opts))
    _, p_choice, delta, value_rpe, action_term, value = replay(tr, model, full)
    A = softq_policy.SQ_COLUMNS.index
    for i in range(tr.n_subjects):
        p = full[i]
        agent = ds.SoftQLambda(
            tr.n_states,
            tr.n_actions,
            alpha=p[A("alpha0")],
            tau=p[A("tau0")],
            lam=p[A("lam")],
            trace=trace,
            trace_mode="replacing" if model.replacing else "accumulating",
            gamma=model.gamma,
        )
        last = {}
        for t in range(tr.n_steps[i]):
            s, a, term = int(tr.state[i, t]), int(tr.action[i, t]), bool(tr.terminal[i, t])
            if a < 0:
                if term:
                    agent.reset_traces()
                assert math.isnan(delta[i, t]) and math.isnan(p_choice[i, t])
                continue
            stage = int(tr.state_stage[s])
            agent.alpha = p[A("alpha0") + stage]
            agent.tau = p[A("tau0") + stage]
            behaviour = agent.policy(s).copy()
            if stage == 0 and s in last:  # stickiness: behaviour only
                behaviour[last[s]] *= math.exp(p[A("kappa")])
                behaviour /= behaviour.sum()
            agent.update(s, a, float(tr.reward[i, t]), None if term else int(tr.next_state[i, t]), term)
            sig = agent.last_step
            assert p_choice[i, t] == pytest.approx(behaviour[a], rel=0, abs=1e-12)
            assert delta[i, t] == pytest.approx(sig.delta, rel=0, abs=1e-12)
            assert value_rpe[i, t] == pytest.approx(sig.value_rpe, rel=0, abs=1e-12)
            assert action_term[i, t] == pytest.approx(sig.action_term, rel=0, abs=1e-12)
            assert value[i, t] == pytest.approx(sig.value, rel=0, abs=1e-12)
            last[s] = a


def _lse(x):
    m = max(x)
    return m + math.log(sum(math.exp(v - m) for v in x))


def two_step_signals_oracle(df, *, alpha1, alpha2, tau1, tau2, lam, kappa, gamma, trace):
    """docs/fitting.md §1–2, one trial at a time, in plain Python: per subject a list of steps
    (p_choice, delta, value_rpe, action_term, V(s)), two per trial with a first-stage choice."""
    out = {}
    for subj, g in df.groupby("subject", sort=False):
        q = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
        prev = None
        rows = []
        for row in g.sort_values("trial").itertuples():
            if pd.isna(row.choice1):
                continue
            c1, s = int(row.choice1), 1 + int(row.state2)
            # 1. P(choice1) with the stickiness; V(0) and V(s) at the first stage's tau
            logits = [q[0][b] / tau1 + (kappa if prev == b else 0.0) for b in range(2)]
            p1 = math.exp(logits[c1] - _lse(logits))
            v0 = tau1 * (_lse([q[0][b] / tau1 for b in range(2)]) + math.log(0.5))
            vs = tau1 * (_lse([q[s][b] / tau1 for b in range(2)]) + math.log(0.5))
            # 2. delta1 = gamma V(s) - Q(0, c1)
            d1 = gamma * vs - q[0][c1]
            rows.append((p1, d1, gamma * vs - v0, q[0][c1] - v0, v0))
            q[0][c1] += alpha1 * d1
            prev = c1
            if pd.isna(row.choice2):
                rows.append((math.nan,) * 5)
                continue
            # 3. P(choice2) = pi(choice2 | s) at the second stage's tau
            c2, r = int(row.choice2), float(row.reward)
            z = [q[s][b] / tau2 for b in range(2)]
            pi = [math.exp(zb - _lse(z)) for zb in z]
            v2 = tau2 * (_lse(z) + math.log(0.5))
            # 4. delta2 = reward - Q(s, choice2); the first-stage pair learns through its trace
            d2 = r - q[s][c2]
            rows.append((pi[c2], d2, r - v2, q[s][c2] - v2, v2))
            if trace == "tree-backup":
                stage1 = alpha2 * gamma * lam * pi[c2] * d2
            elif trace == "uncorrected":
                stage1 = alpha2 * gamma * lam * d2
            else:  # on-policy
                stage1 = alpha2 * gamma * lam * (r - sum(pi[b] * q[s][b] for b in range(2)))
            q[s][c2] += alpha2 * d2
            q[0][c1] += stage1
        out[subj] = np.array(rows)
    return out


@pytest.mark.parametrize("trace", ["tree-backup", "on-policy"])
def test_two_step_signals_equal_a_plain_oracle(trace):
    df = random_two_step(n_subjects=2, n_trials=60, seed=21, missing=0.1)
    p = dict(alpha1=0.35, alpha2=0.6, tau1=0.4, tau2=0.9, lam=0.7, kappa=-0.8, gamma=0.85)
    model = F.get_model(TRACE_NAMES[trace], kappa=True, separate_alpha=True, separate_tau=True, gamma=0.85)
    tr = F.to_transitions(df)
    full = model.full(np.array([[p[k] for k in model.param_names]] * tr.n_subjects))
    _, *signals = replay(tr, model, full)
    want = two_step_signals_oracle(df, trace=trace, **p)
    for i, subj in enumerate(tr.subjects):
        n = tr.n_steps[i]
        assert want[subj].shape == (n, 5)
        got = np.column_stack([sig[i, :n] for sig in signals])
        np.testing.assert_allclose(got, want[subj], rtol=0, atol=1e-12, equal_nan=True)
        assert np.isnan(want[subj][:, 0]).any()  # the case has missing second-stage choices


def test_signals_leave_the_likelihood_unchanged_and_are_deterministic():
    """The replay with an output array gives the NLL (to the rounding of two compiled specialisations),
    and two runs give the same bits."""
    tr = case_data("two-step", seed=2)
    model = F.get_model("soft-q-lambda", kappa=True)
    full = random_full(model, tr.n_subjects, seed=2)
    a = replay(tr, model, full)
    b = replay(tr, model, full)
    want = softq.softq_nll_pairs(
        *data_args(tr),
        np.arange(tr.n_subjects, dtype=np.int64),
        np.ascontiguousarray(full),
        1.0,
        kernel.TREE_BACKUP,
        False,
    )
    assert_close_ulps(a[0], want, REPLAY_ULPS)  # the signal and the value-only replays
    for x, y in zip(a, b, strict=True):
        assert x.tobytes() == y.tobytes()

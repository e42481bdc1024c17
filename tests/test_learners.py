"""SoftQLambda and NStepSoftQ: exact agreement with plain oracles, reductions, forward/backward equivalence,
linear = tabular with one-hot features, and validation of inputs."""

import math

import numpy as np
import pytest
from oracles import PlainSoftQLambda, n_step_return, soft_stats

import dopasoft as ds
from dopasoft import kernel

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TRACES = ["tree-backup", "on-policy", "uncorrected", "retrace"]
CORRECTIONS = ["tree-backup", "importance", "on-policy"]
N_S, N_A = 4, 3


def random_transitions(n, seed, p_end=0.15):
    """Random episodic transitions (s, a, r, s2, terminated, b) with behaviour probabilities."""
    rng = np.random.default_rng(seed)
    out = []
    s = int(rng.integers(N_S))
    for _ in range(n):
        b = rng.dirichlet(np.ones(N_A))
        a = int(rng.choice(N_A, p=b))
        r = float(rng.normal())
        term = bool(rng.random() < p_end)
        s2 = int(rng.integers(N_S))
        out.append((s, a, r, s2, term, float(b[a])))
        s = int(rng.integers(N_S)) if term else s2
    return out


def random_prior(seed):
    return np.random.default_rng(seed).dirichlet(np.ones(N_A) * 2, size=N_S)


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("mode", ["accumulating", "replacing"])
def test_soft_q_lambda_matches_plain_oracle(trace, mode):
    prior = random_prior(0)
    agent = ds.SoftQLambda(
        N_S, N_A, alpha=0.3, tau=0.7, lam=0.8, gamma=0.9, trace=trace, trace_mode=mode, prior=prior
    )
    oracle = PlainSoftQLambda(N_S, N_A, 0.3, 0.7, 0.8, 0.9, trace, mode == "replacing", prior.tolist())
    for s, a, r, s2, term, b in random_transitions(300, seed=1):
        d = agent.update(s, a, r, s2, term, behaviour_prob=b)
        d_oracle = oracle.update(s, a, r, s2, term, b)
        assert d == pytest.approx(d_oracle, abs=1e-12)
        np.testing.assert_allclose(agent.q, oracle.q, atol=1e-12)


@pytest.mark.parametrize("correction", CORRECTIONS)
def test_n_step_matches_plain_oracle(correction):
    prior = random_prior(2)
    n = 3
    agent = ds.NStepSoftQ(N_S, N_A, n=n, alpha=0.4, tau=0.6, gamma=0.85, correction=correction, prior=prior)
    q = [[0.0] * N_A for _ in range(N_S)]
    pending = []

    def apply(steps):
        err = n_step_return(q, steps, n, 0.85, 0.6, prior.tolist(), correction)
        q[steps[0][0]][steps[0][1]] += 0.4 * err

    for step in random_transitions(300, seed=3):
        agent.update(*step[:5], behaviour_prob=step[5])
        pending.append(step)
        if len(pending) == n:
            apply(pending)
            pending.pop(0)
        if step[4]:
            while pending:
                apply(pending)
                pending.pop(0)
        np.testing.assert_allclose(agent.q, q, atol=1e-12)


def one_step_oracle(transitions, alpha, tau, gamma, prior):
    q = np.zeros((N_S, N_A))
    for s, a, r, s2, term, _ in transitions:
        v2 = 0.0 if term else soft_stats(q[s2], tau, prior[s2])[0]
        q[s, a] += alpha * (r + gamma * v2 - q[s, a])
    return q


@pytest.mark.parametrize("trace", TRACES)
def test_lambda_zero_is_one_step_soft_q_learning(trace):
    prior = random_prior(4)
    data = random_transitions(200, seed=5)
    agent = ds.SoftQLambda(N_S, N_A, alpha=0.2, tau=0.5, lam=0.0, gamma=0.95, trace=trace, prior=prior)
    for s, a, r, s2, term, b in data:
        agent.update(s, a, r, s2, term, behaviour_prob=b)
    np.testing.assert_allclose(agent.q, one_step_oracle(data, 0.2, 0.5, 0.95, prior), atol=1e-13)


@pytest.mark.parametrize("correction", CORRECTIONS)
def test_n_one_is_one_step_soft_q_learning(correction):
    prior = random_prior(6)
    data = random_transitions(200, seed=7)
    agent = ds.NStepSoftQ(N_S, N_A, n=1, alpha=0.2, tau=0.5, gamma=0.95, correction=correction, prior=prior)
    for s, a, r, s2, term, b in data:
        agent.update(s, a, r, s2, term, behaviour_prob=b)
    np.testing.assert_allclose(agent.q, one_step_oracle(data, 0.2, 0.5, 0.95, prior), atol=1e-13)


def _episode(seed, length):
    data = random_transitions(length, seed=seed, p_end=0.0)
    s, a, r, s2, _, b = data[-1]
    return data[:-1] + [(s, a, r, s2, True, b)]


def _lambda_return_errors(q, episode, lam, gamma, tau, prior, trace):
    """Forward-view λ-return error of every pair of an episode, Q fixed, from the definitions.

    tree-backup and on-policy: the λ-mixture of that variant's n-step returns,
    (1 - λ) Σ_{n<h} λ^{n-1} G^(n) + λ^{h-1} G^(h), minus Q(s_t, a_t).
    uncorrected and retrace: Σ_k (γλ)^k Π_{i=1..k} c_{t+i} δ_{t+k} with c = 1 or min(1, π/b).
    """
    h_all = len(episode)
    errors = []
    for t in range(h_all):
        steps = episode[t:]
        h = len(steps)
        if trace in ("tree-backup", "on-policy"):
            total = 0.0
            for n in range(1, h + 1):
                err = n_step_return(q, steps, n, gamma, tau, prior, trace)
                weight = (1 - lam) * lam ** (n - 1) if n < h else lam ** (h - 1)
                total += weight * err
            errors.append(total)
        else:
            total, coef = 0.0, 1.0
            for k, (s, a, r, s2, term, b) in enumerate(steps):
                if k > 0:
                    pi = soft_stats(q[s], tau, prior[s])[1]
                    coef *= gamma * lam * (1.0 if trace == "uncorrected" else min(1.0, pi[a] / b))
                v2 = 0.0 if term else soft_stats(q[s2], tau, prior[s2])[0]
                total += coef * (r + gamma * v2 - q[s][a])
            errors.append(total)
    return errors


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("lam", [0.0, 0.6, 1.0])
def test_backward_increments_sum_to_forward_lambda_return_error(trace, lam):
    """Offline (Q held fixed): Σ_t δ-increments of the traces = Σ over visits of the λ-return error."""
    gamma, tau, alpha = 0.9, 0.8, 1.0
    prior = random_prior(8)
    log_prior = np.log(prior)
    rng = np.random.default_rng(9)
    q0 = rng.normal(size=(N_S, N_A))
    episode = _episode(seed=10, length=9)
    w_fixed = q0.copy()
    e = np.zeros_like(w_fixed)
    total = np.zeros_like(w_fixed)
    work, live = np.empty((4, N_A)), np.zeros(N_S + 1, np.int64)
    rows, ones = np.arange(N_S), np.ones(N_S)
    for s, a, r, s2, term, b in episode:
        w = w_fixed.copy()  # every increment is computed from the same, fixed Q
        kernel.soft_q_step(
            w,
            e,
            live,
            rows,
            ones,
            s,
            s + 1,
            a,
            r,
            rows,
            ones,
            s2,
            s2 + 1,
            term,
            alpha,
            tau,
            gamma,
            lam,
            log_prior[s],
            log_prior[s2],
            kernel.TRACE_CODES[trace],
            False,
            b,
            work,
            None,
            None,
            None,
            None,
            None,
            None,
        )
        total += w - w_fixed
    forward = np.zeros_like(w_fixed)
    errs = _lambda_return_errors(q0.tolist(), episode, lam, gamma, tau, prior.tolist(), trace)
    for (s, a, *_), err in zip(episode, errs, strict=True):
        forward[s, a] += err
    np.testing.assert_allclose(total, forward, atol=1e-10)


@pytest.mark.parametrize("correction", ["tree-backup", "on-policy"])
def test_n_step_error_equals_sum_of_td_errors(correction):
    """G − Q written as a sum of one-step errors, Q fixed (docs/maths.md §3)."""
    gamma, tau = 0.9, 0.7
    prior = random_prior(11)
    rng = np.random.default_rng(12)
    q = rng.normal(size=(N_S, N_A))
    steps = random_transitions(5, seed=13, p_end=0.0)
    v = ds.soft_value(q, tau, prior)
    pi = ds.boltzmann_policy(q, tau, prior)
    n = len(steps)
    td_sum, coef = 0.0, 1.0
    for k, (s, a, r, s2, _, _) in enumerate(steps):
        if correction == "tree-backup":
            if k > 0:
                coef *= gamma * pi[s, a]
            td = r + gamma * v[s2] - q[s, a]
        else:
            coef = gamma**k
            baseline = q[s, a] if k == 0 else pi[s] @ q[s]
            td = r + gamma * v[s2] - baseline
        td_sum += coef * td
    # the library's return functions
    rewards = [st[2] for st in steps]
    mid = steps[1:]
    if correction == "tree-backup":
        g = ds.soft_tree_backup_return(
            rewards,
            [v[s] for s, *_ in mid],
            [pi[s, a] for s, a, *_ in mid],
            [q[s, a] for s, a, *_ in mid],
            v[steps[-1][3]],
            gamma,
        )
    else:
        kl = ds.policy_kl(q, tau, prior)
        g = ds.soft_n_step_return(rewards, [kl[s] for s, *_ in mid], v[steps[-1][3]], gamma, tau)
    assert g - q[steps[0][0], steps[0][1]] == pytest.approx(td_sum, abs=1e-12)
    # ... and the learner's update of the first pair is alpha times it, when the episode ends at the horizon
    agent = ds.NStepSoftQ(
        N_S, N_A, n=n, alpha=0.5, tau=tau, gamma=gamma, correction=correction, prior=prior, q_init=q
    )
    for k, (s, a, r, s2, _, b) in enumerate(steps):
        agent.update(s, a, r, s2, False, behaviour_prob=b)
        if k < n - 1:
            np.testing.assert_array_equal(agent.q, q)  # delayed: nothing learnt before the horizon
    s0, a0 = steps[0][:2]
    assert agent.q[s0, a0] - q[s0, a0] == pytest.approx(0.5 * td_sum, abs=1e-12)


def one_hot(s, n=N_S):
    x = np.zeros(n)
    x[s] = 1.0
    return x


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("mode", ["accumulating", "replacing"])
def test_linear_one_hot_equals_tabular(trace, mode):
    prior = np.array([0.2, 0.5, 0.3])
    kw = dict(alpha=0.3, tau=0.4, lam=0.9, gamma=0.9, trace=trace, trace_mode=mode, prior=prior)
    # the tabular learner passes one-hot rows, the linear one sparse feature lists, to the same step
    tab = ds.SoftQLambda(N_S, N_A, **kw)
    lin = ds.SoftQLambda(N_S, N_A, linear=True, **kw)
    for s, a, r, s2, term, b in random_transitions(200, seed=14):
        d1 = tab.update(s, a, r, s2, term, behaviour_prob=b)
        d2 = lin.update(one_hot(s), a, r, one_hot(s2), term, behaviour_prob=b)
        # two code paths (indexing vs feature sums): equal to rounding
        assert d1 == pytest.approx(d2, abs=1e-12)
        np.testing.assert_allclose(tab.last_step, lin.last_step, atol=1e-12)
        np.testing.assert_allclose(tab.q, lin.q, atol=1e-12)
        np.testing.assert_allclose(tab.traces, lin.traces, atol=1e-12)
        np.testing.assert_allclose(tab.policy(s), lin.policy(one_hot(s)), atol=1e-12)


@pytest.mark.parametrize("correction", CORRECTIONS)
def test_linear_one_hot_equals_tabular_n_step(correction):
    kw = dict(n=3, alpha=0.3, tau=0.4, gamma=0.9, correction=correction)
    tab = ds.NStepSoftQ(N_S, N_A, **kw)
    lin = ds.NStepSoftQ(N_S, N_A, linear=True, **kw)
    for s, a, r, s2, term, b in random_transitions(200, seed=15):
        tab.update(s, a, r, s2, term, behaviour_prob=b)
        lin.update(one_hot(s), a, r, one_hot(s2), term, behaviour_prob=b)
        np.testing.assert_allclose(tab.q, lin.q, atol=1e-14)


def test_linear_features_generalise_between_compound_states():
    """Shared weights: learning about the compound AB moves the prediction of A alone."""
    agent = ds.SoftQLambda(2, 1, alpha=0.1, tau=1.0, lam=0.0, gamma=1.0, linear=True)
    for _ in range(200):
        agent.update([1.0, 1.0], 0, 1.0, None, True)
    assert agent.q_values([1.0, 1.0])[0] == pytest.approx(1.0, abs=1e-6)
    assert agent.q_values([1.0, 0.0])[0] == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("learner", ["lambda", "nstep"])
def test_signals_identity_and_values(learner):
    prior = random_prior(16)
    if learner == "lambda":
        agent = ds.SoftQLambda(N_S, N_A, alpha=0.3, tau=0.5, lam=0.7, gamma=0.9, prior=prior)
    else:
        agent = ds.NStepSoftQ(N_S, N_A, n=2, alpha=0.3, tau=0.5, gamma=0.9, prior=prior)
    for s, a, r, s2, term, b in random_transitions(100, seed=17):
        q_before = agent.q
        v = ds.soft_value(q_before, 0.5, prior)
        d = agent.update(s, a, r, s2, term, behaviour_prob=b)
        sig = agent.last_step
        v2 = 0.0 if term else v[s2]
        assert sig.delta == d == pytest.approx(r + 0.9 * v2 - q_before[s, a], abs=1e-12)
        assert sig.value_rpe == pytest.approx(r + 0.9 * v2 - v[s], abs=1e-12)
        assert sig.action_term == pytest.approx(
            0.5 * math.log(ds.boltzmann_policy(q_before, 0.5, prior)[s, a] / prior[s, a]), abs=1e-12
        )
        assert sig.delta == pytest.approx(sig.value_rpe - sig.action_term, abs=1e-12)


def test_traces_reset_after_terminal_step_and_on_request():
    agent = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.9)
    agent.update(0, 1, 0.0, 1, False)
    assert agent.traces.sum() > 0
    agent.reset_traces()
    assert agent.traces.sum() == 0
    agent.update(0, 1, 0.0, 1, False)
    agent.update(1, 0, 1.0, None, True)
    assert agent.traces.sum() == 0


def test_extreme_values_stay_finite():
    agent = ds.SoftQLambda(2, 2, alpha=1.0, tau=1e-4, lam=0.5, q_init=[[1e3, -1e3], [0.0, 0.0]])
    d = agent.update(1, 0, 0.0, 0, False)  # V(0) with Q/τ = 1e7
    assert d == pytest.approx(1e3 + 1e-4 * math.log(0.5), rel=1e-12)
    assert np.all(np.isfinite(agent.q))
    np.testing.assert_allclose(agent.policy(0), [1.0, 0.0])


def test_act_is_reproducible_and_follows_the_policy():
    agent = ds.SoftQLambda(1, 3, alpha=0.5, tau=1.0, lam=0.0, q_init=[[0.0, math.log(2), math.log(5)]])
    draws = [agent.act(0, rng) for rng in [np.random.default_rng(0)] for _ in range(8000)]
    again = [agent.act(0, rng) for rng in [np.random.default_rng(0)] for _ in range(8000)]
    assert draws == again
    freq = np.bincount(draws, minlength=3) / len(draws)
    np.testing.assert_allclose(freq, [0.125, 0.25, 0.625], atol=0.02)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(tau=0.0), "tau"),
        (dict(tau=-1.0), "tau"),
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=1.5), "alpha"),
        (dict(lam=-0.1), "lam"),
        (dict(lam=1.1), "lam"),
        (dict(gamma=1.2), "gamma"),
        (dict(prior=[0.5, 0.6]), "prior"),
        (dict(prior=[-0.5, 1.5]), "prior"),
        (dict(prior=[1.0]), "prior"),
        (dict(trace="watkins"), "trace"),
        (dict(trace_mode="dutch"), "trace_mode"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    base = dict(alpha=0.5, tau=1.0, lam=0.5)
    with pytest.raises(ValueError, match=name):
        ds.SoftQLambda(3, 2, **{**base, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(n=0), "n"),
        (dict(correction="retrace"), "correction"),
        (dict(tau=0), "tau"),
        (dict(alpha=2), "alpha"),
    ],
)
def test_bad_n_step_arguments_are_named(kwargs, name):
    base = dict(n=2, alpha=0.5, tau=1.0)
    with pytest.raises(ValueError, match=name):
        ds.NStepSoftQ(3, 2, **{**base, **kwargs})


def test_bad_states_actions_and_missing_behaviour():
    agent = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.5)
    with pytest.raises(ValueError, match="state 3 is out of range"):
        agent.update(3, 0, 0.0, 1, False)
    with pytest.raises(ValueError, match="next_state 5 is out of range"):
        agent.update(0, 0, 0.0, 5, False)
    with pytest.raises(ValueError, match="action 2 is out of range"):
        agent.update(0, 2, 0.0, 1, False)
    with pytest.raises(ValueError, match="reward"):
        agent.update(0, 0, float("nan"), 1, False)
    with pytest.raises(ValueError, match="alpha"):
        agent.alpha = 0.0
    retrace = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.5, trace="retrace")
    with pytest.raises(ValueError, match="behaviour_prob"):
        retrace.update(0, 0, 0.0, 1, False)
    importance = ds.NStepSoftQ(3, 2, n=2, alpha=0.5, tau=1.0, correction="importance")
    with pytest.raises(ValueError, match="behaviour_prob"):
        importance.update(0, 0, 0.0, 1, False)
    linear = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.5, linear=True)
    with pytest.raises(ValueError, match="feature vector of length 3"):
        linear.update([1.0, 0.0], 0, 0.0, [0.0, 1.0, 0.0], False)
    zero_prior = ds.SoftQLambda(3, 2, alpha=0.5, tau=1.0, lam=0.5, prior=[1.0, 0.0])
    with pytest.raises(ValueError, match="zero probability under the default policy"):
        zero_prior.update(0, 1, 0.0, 1, False)

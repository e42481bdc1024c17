"""A learned default policy (docs/maths.md §7): the pi0 update, action_pe, and what it converges to.

Ground truths: hand-worked steps, the closed form of the exponentially weighted average, the behaviour's
action frequencies, today's step (:func:`dopasoft.kernel.soft_q_step` with a fixed prior) and soft value
iteration with the limit pi0.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ulps import KERNEL_ULPS, REPLAY_ULPS, assert_close_ulps

import dopasoft as ds
from dopasoft import kernel
from dopasoft.tasks.discrimination import DiscriminationTask
from dopasoft.tasks.mdp import random_mdp

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

TRACES = ("tree-backup", "on-policy", "uncorrected", "retrace")


def test_prior_update_hand_worked_two_steps():
    prior = np.array([0.5, 0.5])
    log_prior = np.log(prior)
    # step 1, action 1 at rate 0.2: action_pe = 1 - 0.5; pi0 = 0.5 + 0.2 (e_1 - 0.5) = [0.4, 0.6]
    assert kernel.prior_update(prior, log_prior, 1, 0.2) == 0.5
    np.testing.assert_allclose(prior, [0.4, 0.6], rtol=0, atol=1e-15)
    # step 2, action 1 again: action_pe = 1 - 0.6 = 0.4; pi0 = [0.4 * 0.8, 0.6 + 0.2 * 0.4] = [0.32, 0.68]
    assert kernel.prior_update(prior, log_prior, 1, 0.2) == pytest.approx(0.4, abs=1e-15)
    np.testing.assert_allclose(prior, [0.32, 0.68], rtol=0, atol=1e-15)
    assert_close_ulps(log_prior, np.log(prior), KERNEL_ULPS)  # numba's math.log against np.log
    # rate 0: nothing moves, action_pe is still 1 - pi0(a)
    assert kernel.prior_update(prior, log_prior, 0, 0.0) == pytest.approx(0.68, abs=1e-15)
    np.testing.assert_allclose(prior, [0.32, 0.68], rtol=0, atol=1e-15)


def test_agent_uses_the_prior_from_before_the_step():
    """Two bandit steps worked by hand: V, delta and action_term with pi0 before its update."""
    agent = ds.SoftQLambda(1, 2, alpha=0.5, tau=1.0, lam=0.0, prior_rate=0.2)
    agent.update(0, 1, 1.0, None, True)
    s1 = agent.last_step
    # Q = 0, pi0 = [.5, .5]: V = log(.5 + .5) = 0, delta = 1, action_term = 0, action_pe = .5
    assert (s1.delta, s1.value, s1.action_term, s1.action_pe) == (1.0, 0.0, 0.0, 0.5)
    np.testing.assert_allclose(agent.q, [[0.0, 0.5]], rtol=0, atol=0)
    np.testing.assert_allclose(agent.prior, [[0.4, 0.6]], rtol=0, atol=1e-15)
    # step 2 (r = 0, non-terminal back to the same state, gamma 1): every V uses pi0 = [.4, .6]
    agent.update(0, 1, 0.0, 0, False)
    s2 = agent.last_step
    v = math.log(0.4 + 0.6 * math.exp(0.5))
    assert s2.value == pytest.approx(v, abs=1e-14)
    assert s2.next_value == pytest.approx(v, abs=1e-14)
    assert s2.delta == pytest.approx(v - 0.5, abs=1e-14)
    assert s2.action_term == pytest.approx(0.5 - v, abs=1e-14)
    assert s2.action_pe == pytest.approx(0.4, abs=1e-15)
    np.testing.assert_allclose(agent.prior, [[0.32, 0.68]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(agent.default_policy(0), [0.32, 0.68], rtol=0, atol=1e-15)


@pytest.mark.parametrize("linear", [False, True])
def test_prior_is_the_exponentially_weighted_average_of_the_actions(linear):
    """pi0_N = (1 - a)^N pi0_0 + sum_k a (1 - a)^(N - k) e_{a_k}, state by state (plain oracle)."""
    n_s, n_a, rate = 3, 3, 0.07
    start = np.array([0.2, 0.5, 0.3])
    agent = ds.SoftQLambda(n_s, n_a, alpha=0.1, tau=1.0, lam=0.5, prior=start, prior_rate=rate, linear=linear)
    rng = np.random.default_rng(4)
    expect = np.tile(start, (n_s, 1))
    pes = []
    for _ in range(200):
        s, a = int(rng.integers(n_s)), int(rng.integers(n_a))
        x = np.eye(n_s)[s] if linear else s
        agent.update(x, a, float(rng.normal()), x, bool(rng.random() < 0.3))
        pes.append((agent.last_step.action_pe, 1.0 - expect[s, a]))
        expect[s] = (1 - rate) * expect[s] + rate * np.eye(n_a)[a]
    np.testing.assert_allclose(agent.prior, expect, rtol=0, atol=1e-13)
    np.testing.assert_allclose(*np.array(pes).T, rtol=0, atol=1e-13)


def test_linear_agent_with_one_hot_states_is_the_tabular_agent():
    kw = dict(alpha=0.3, tau=0.5, lam=0.8, gamma=0.9, prior_rate=0.1)
    tabular, linear = ds.SoftQLambda(3, 2, **kw), ds.SoftQLambda(3, 2, linear=True, **kw)
    rng = np.random.default_rng(5)
    for _ in range(300):
        s, a, s2, term = (
            int(rng.integers(3)),
            int(rng.integers(2)),
            int(rng.integers(3)),
            bool(rng.random() < 0.2),
        )
        r = float(rng.normal())
        tabular.update(s, a, r, s2, term)
        linear.update(np.eye(3)[s], a, r, np.eye(3)[s2], term)
        np.testing.assert_allclose(tuple(linear.last_step), tuple(tabular.last_step), rtol=0, atol=1e-12)
    np.testing.assert_allclose(linear.q, tabular.q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(linear.prior, tabular.prior, rtol=0, atol=1e-15)
    assert np.abs(tabular.prior - 0.5).max() > 0.1  # it did learn


@pytest.mark.parametrize("linear", [False, True])
def test_prior_converges_to_the_behaviour_frequencies(linear):
    """Under a fixed behaviour b, pi0(.|s) -> b(.|s) (tolerance: 5 sd of the stationary fluctuation)."""
    rate, n = 0.002, 6000
    behaviour = np.array([[0.6, 0.25, 0.15], [0.1, 0.1, 0.8]])
    agent = ds.SoftQLambda(2, 3, alpha=0.1, tau=1.0, lam=0.9, prior_rate=rate, linear=linear)
    rng = np.random.default_rng(0)
    for _ in range(n):
        for s in (0, 1):
            a = int(rng.choice(3, p=behaviour[s]))
            x = np.eye(2)[s] if linear else s
            agent.update(x, a, 1.0 if a == 2 else 0.0, None, True)
    # pi0 is an exponentially weighted mean of n draws: bias (1 - rate)^n < 1e-5, variance
    # rate / (2 - rate) * b (1 - b)
    sd = np.sqrt(rate / (2 - rate) * behaviour * (1 - behaviour))
    assert np.all(np.abs(agent.prior - behaviour) < 5 * sd + 1e-5)
    assert np.all(np.abs(1 / 3 - behaviour) > 5 * sd + 1e-5)  # uniform pi0 would fail


def _todays_step(n_s, n_a, trace, mode, steps, linear):
    """Today's agent: :func:`kernel.soft_q_step` with a fixed uniform prior (what the learner wraps)."""
    W, E = np.zeros((n_s, n_a)), np.zeros((n_s, n_a))
    live, work, sig = np.zeros(n_s + 1, dtype=np.int64), np.zeros((4, n_a)), np.zeros(kernel.N_SIGNALS)
    log_prior = np.log(np.full(n_a, 1.0 / n_a))
    out = []
    for s, a, r, s2, term in steps:
        idx, val = np.array([s]), np.array([1.0])
        kernel.soft_q_step(
            W, E, live, idx, val, 0, 1, a, r, np.array([s2]), np.array([1.0]), 0, 1, term,
            0.3, 0.7, 0.9, 0.8, log_prior, log_prior, kernel.TRACE_CODES[trace], mode == "replacing",
            1.0 / n_a, work, None, sig, None, None, None, None,
        )  # fmt: skip
        out.append(tuple(sig[:5]))
    return W, out


@pytest.mark.parametrize("linear", [False, True])
@pytest.mark.parametrize("mode", ["accumulating", "replacing"])
@pytest.mark.parametrize("trace", TRACES)
def test_prior_rate_zero_is_todays_agent(trace, mode, linear):
    """prior_rate = 0 is the agent without a learned prior bit for bit (the same compiled update), and
    both run today's step (:func:`kernel.soft_q_step` driven directly: another specialisation)."""
    n_s, n_a = 4, 3
    rng = np.random.default_rng(1)
    steps = [
        (int(rng.integers(n_s)), int(rng.integers(n_a)), float(rng.normal()), int(rng.integers(n_s)), bool(rng.random() < 0.2))
        for _ in range(300)
    ]  # fmt: skip
    kw = dict(alpha=0.3, tau=0.7, lam=0.8, gamma=0.9, trace=trace, trace_mode=mode, linear=linear)
    agents = [ds.SoftQLambda(n_s, n_a, **kw), ds.SoftQLambda(n_s, n_a, prior_rate=0.0, **kw)]
    signals = [[], []]
    for s, a, r, s2, term in steps:
        for agent, sig in zip(agents, signals, strict=True):
            x = (lambda k: np.eye(n_s)[k]) if linear else (lambda k: k)
            agent.update(x(s), a, r, x(s2), term, behaviour_prob=1.0 / n_a)
            sig.append(tuple(agent.last_step))
    # the same learner with and without prior_rate = 0: the same bits
    assert np.array_equal(agents[0].q, agents[1].q) and signals[0] == signals[1]
    w_today, sig_today = _todays_step(n_s, n_a, trace, mode, steps, linear)
    for agent, sig in zip(agents, signals, strict=True):
        assert_close_ulps(agent.q, w_today, REPLAY_ULPS, scale=np.abs(w_today).max())
        got, want = np.array([t[:5] for t in sig]), np.array(sig_today)
        assert_close_ulps(got, want, REPLAY_ULPS, scale=np.abs(want).max())
        assert all(t[5] == 1.0 - 1.0 / n_a for t in sig)  # fixed uniform pi0
        assert np.array_equal(agent.prior, np.full(n_a, 1.0 / n_a))


def test_prior_rate_zero_simulation_tables_identical():
    task_kw = dict(n_trials=150, novel_from=100, seed=2)
    runs = [
        ds.simulate(
            ds.SoftQLambda(4, 2, alpha=0.2, tau=0.5, lam=0.0, **kw), DiscriminationTask(**task_kw), seed=7
        )
        for kw in ({}, {"prior_rate": 0.0})
    ]
    assert runs[0].steps.equals(runs[1].steps) and runs[0].trials.equals(runs[1].trials)
    assert (runs[0].steps["action_pe"] == 0.5).all()
    learned = ds.simulate(
        ds.SoftQLambda(4, 2, alpha=0.2, tau=0.5, lam=0.0, prior_rate=0.1),
        DiscriminationTask(**task_kw),
        seed=7,
    )
    assert learned.steps["action_pe"].min() < 0.2  # the column carries the learned pi0


def test_tree_backup_with_learned_prior_converges_to_soft_value_iteration():
    """Fixed behaviour b: pi0 -> b and tree-backup Soft Q(λ) -> Q* of soft VI with the limit pi0."""
    gamma, tau, n_s, n_a, steps = 0.8, 1.0, 5, 3, 40_000
    mdp = random_mdp(n_s, n_a, seed=1)
    q_uniform = mdp.solve(gamma=gamma, tau=tau).q
    behaviour = 0.6 * np.eye(n_a)[ds.boltzmann_policy(q_uniform, tau).argmin(axis=1)] + 0.4 / n_a
    agent = ds.SoftQLambda(n_s, n_a, alpha=0.5, tau=tau, lam=0.7, gamma=gamma, prior_rate=0.5)
    rng = np.random.default_rng(0)
    u = rng.random((steps, 2))
    cum_b, cum_p = np.cumsum(behaviour, axis=1), np.cumsum(mdp.P, axis=2)
    visits = np.zeros(n_s)
    s, total, count = 0, np.zeros((n_s, n_a)), 0
    for t in range(steps):
        agent.alpha = 0.5 * (1 + t / 500) ** -0.6
        visits[s] += 1
        agent.prior_rate = 1.0 / (visits[s] + 1)  # pi0(.|s) = running mean of the actions taken in s
        a = min(int(np.searchsorted(cum_b[s], u[t, 0])), n_a - 1)
        s2 = min(int(np.searchsorted(cum_p[s, a], u[t, 1])), n_s - 1)
        agent.update(s, a, mdp.R[s, a], s2, False)
        s = s2
        if t >= steps // 2 and t % 5 == 0:
            total += agent.q
            count += 1
    limit = agent.prior
    assert np.max(np.abs(limit - behaviour)) < 0.03
    q_star = mdp.solve(gamma=gamma, tau=tau, prior=limit).q
    assert np.max(np.abs(total / count - q_star)) < 0.03
    assert np.max(np.abs(q_star - q_uniform)) > 0.2  # a fixed uniform pi0 has another Q*


@settings(max_examples=60, deadline=None)
@given(
    start=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=4),
    rate=st.floats(0.0, 0.999),
    actions=st.lists(st.integers(0, 3), min_size=1, max_size=1500),
)
def test_prior_stays_a_positive_distribution(start, rate, actions):
    prior = np.array(start) / np.sum(start)
    log_prior = np.log(prior)
    for a in actions:
        a %= len(prior)
        before = prior[a]
        assert kernel.prior_update(prior, log_prior, a, rate) == 1.0 - before
        assert np.all(prior > 0) and abs(prior.sum() - 1.0) < 1e-9
        assert_close_ulps(log_prior, np.log(prior), KERNEL_ULPS)  # numba's math.log against np.log


@pytest.mark.parametrize("lam", [0.0, 0.6])
def test_cached_log_normaliser_never_holds_the_state_whose_prior_changed(lam):
    """The step's cache of V(s') is never the state just learnt (its W row changed too), so a learned
    pi0 cannot make it stale; with a cache the step is the step without one, bandit steps included."""

    def run(cache):
        rng = np.random.default_rng(3)
        W, E = np.zeros((3, 2)), np.zeros((3, 2))
        live, work, sig = np.zeros(4, dtype=np.int64), np.zeros((4, 2)), np.zeros(kernel.N_SIGNALS)
        prior = np.full((3, 2), 0.5)
        log_prior = np.log(prior)
        idx, one = np.arange(3), np.ones(3)
        out = []
        for _ in range(200):
            s, a, r = int(rng.integers(3)), int(rng.integers(2)), float(rng.normal())
            s2 = s if rng.random() < 0.5 else int(rng.integers(3))  # half of the steps: a bandit step
            kernel.soft_q_step(
                W, E, live, idx, one, s, s + 1, a, r, idx, one, s2, s2 + 1, False, 0.5, 1.0, 0.9, lam,
                log_prior[s], log_prior[s2], kernel.TREE_BACKUP, False, 1.0, work, cache, sig,
                None, None, None, None,
            )  # fmt: skip
            kernel.prior_update(prior[s], log_prior[s], a, 0.3)
            if cache is not None:
                assert cache[0] != s
                kernel.forget_cached_state(cache, s)  # the guard a caller adds; a no-op here
            out.append(sig[:5].copy())
        return np.array(out), cache

    plain, _ = run(None)
    cached, cache = run(np.full(5, -1.0))
    assert_close_ulps(cached, plain, REPLAY_ULPS, scale=np.abs(plain).max())
    probe = np.array([2.0, 1.0, 0.3, 0.5, 0.5])
    kernel.forget_cached_state(probe, 1)
    assert probe[0] == 2.0
    kernel.forget_cached_state(probe, 2)
    assert probe[0] == -1.0


def test_learned_prior_input_errors():
    with pytest.raises(ValueError, match=r"prior_rate must be in \[0, 1\), got 1"):
        ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, prior_rate=1.0)
    with pytest.raises(ValueError, match="prior_rate must be in"):
        ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, prior_rate=float("nan"))
    with pytest.raises(ValueError, match="prior_rate must be a number"):
        ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, prior_rate="fast")
    fixed = ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0)
    with pytest.raises(ValueError, match="build it with prior_rate > 0"):
        fixed.prior_rate = 0.1
    linear = ds.SoftQLambda(3, 2, alpha=0.1, tau=1.0, lam=0.0, linear=True, prior_rate=0.1)
    with pytest.raises(ValueError, match="state must be a one-hot feature vector with prior_rate > 0"):
        linear.update(np.array([1.0, 1.0, 0.0]), 0, 1.0, None, True)
    with pytest.raises(ValueError, match="next_state must be a one-hot"):
        linear.update(np.array([1.0, 0.0, 0.0]), 0, 1.0, np.array([0.0, 0.5, 0.0]), False)
    assert linear.last_step is None  # nothing was learnt
    np.testing.assert_array_equal(linear.prior, np.full((3, 2), 0.5))


def test_copies_carry_their_own_learned_prior():
    import copy
    import pickle

    agent = ds.SoftQLambda(2, 2, alpha=0.5, tau=1.0, lam=0.5, prior_rate=0.5)
    agent.update(0, 1, 1.0, 1, False)
    for twin in (copy.deepcopy(agent), pickle.loads(pickle.dumps(agent))):
        twin.update(0, 1, 0.0, 1, False)
        np.testing.assert_allclose(twin.prior[0], [0.125, 0.875], rtol=0, atol=1e-15)  # 0.25 -> 0.125
        np.testing.assert_allclose(agent.prior[0], [0.25, 0.75], rtol=0, atol=1e-15)  # original untouched
        assert twin.last_step.action_pe == 0.25
        q, pi0 = twin.q[0], twin.prior[0]
        twin.update(0, 0, 0.0, None, True)  # the step reads the twin's own log pi0
        assert twin.last_step.value == pytest.approx(math.log(pi0 @ np.exp(q)), abs=1e-14)

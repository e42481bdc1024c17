"""The soft operators and soft value iteration against hand-worked values, limits and a plain oracle."""

import math

import numpy as np
import pytest

import dopasoft as ds
from dopasoft.tasks.mdp import random_mdp

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def test_soft_value_hand_worked():
    # V = tau log( 1/2 e^{1/tau} + 1/2 e^{3/tau} ), tau = 2
    expected = 2.0 * math.log(0.5 * math.exp(0.5) + 0.5 * math.exp(1.5))
    assert ds.soft_value([1.0, 3.0], tau=2.0) == pytest.approx(expected, abs=1e-12)


def test_soft_value_with_prior_hand_worked():
    prior = [0.2, 0.8]
    expected = 0.5 * math.log(0.2 * math.exp(2.0) + 0.8 * math.exp(-2.0))
    assert ds.soft_value([1.0, -1.0], tau=0.5, prior=prior) == pytest.approx(expected, abs=1e-12)


def test_policy_hand_worked():
    pi = ds.boltzmann_policy([0.0, math.log(3.0)], tau=1.0)
    np.testing.assert_allclose(pi, [0.25, 0.75], atol=1e-15)
    pi = ds.boltzmann_policy([0.0, 0.0], tau=1.0, prior=[0.3, 0.7])
    np.testing.assert_allclose(pi, [0.3, 0.7], atol=1e-15)


def test_zero_values_give_zero_value_and_the_prior():
    q = np.zeros((4, 3))
    np.testing.assert_allclose(ds.soft_value(q, tau=0.7), 0.0, atol=1e-15)
    prior = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(ds.soft_value(q, tau=0.7, prior=prior), 0.0, atol=1e-15)
    np.testing.assert_allclose(ds.boltzmann_policy(q, tau=0.7, prior=prior), np.tile(prior, (4, 1)))


@pytest.mark.parametrize("tau", [1e-2, 1e-3, 1e-4])
def test_small_temperature_limit_is_max_and_greedy(tau):
    q = np.array([[1.0, 3.0, 2.0], [-5.0, -7.0, -6.0]])
    v = ds.soft_value(q, tau=tau)
    # V - max = tau log(1/3 + exponentially small terms)
    np.testing.assert_allclose(v, q.max(axis=1) + tau * math.log(1 / 3), atol=1e-9)
    pi = ds.boltzmann_policy(q, tau=tau)
    np.testing.assert_allclose(pi, np.eye(3)[q.argmax(axis=1)], atol=1e-12)


def test_extreme_ratios_do_not_overflow():
    q = np.array([1e7 * 1e-4, 0.0, -1e7 * 1e-4])  # Q / tau = 1e7 at tau = 1e-4
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        v = ds.soft_value(q, tau=1e-4)
        pi = ds.boltzmann_policy(q, tau=1e-4)
        kl = ds.policy_kl(q, tau=1e-4)
    assert np.isfinite(v) and v == pytest.approx(1e3 + 1e-4 * math.log(1 / 3), abs=1e-9)
    np.testing.assert_allclose(pi, [1.0, 0.0, 0.0])
    assert kl == pytest.approx(math.log(3.0), abs=1e-9)
    big = ds.soft_value([1e7, 1e7], tau=1.0)
    assert big == pytest.approx(1e7, rel=1e-15)


def test_batched_along_leading_axes():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 3, 4))
    v = ds.soft_value(q, tau=0.3)
    assert v.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            direct = 0.3 * math.log(sum(math.exp(x / 0.3) for x in q[i, j]) / 4)
            assert v[i, j] == pytest.approx(direct, abs=1e-12)


def test_kl_and_action_term_identities():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(5, 3)) * 3
    prior = rng.dirichlet(np.ones(3), size=5)
    tau = 0.8
    pi = ds.boltzmann_policy(q, tau, prior)
    v = ds.soft_value(q, tau, prior)
    kl = ds.policy_kl(q, tau, prior)
    direct_kl = np.sum(pi * np.log(pi / prior), axis=1)
    np.testing.assert_allclose(kl, direct_kl, atol=1e-12)
    # V = E_pi[Q] - tau KL
    np.testing.assert_allclose(v, np.sum(pi * q, axis=1) - tau * kl, atol=1e-12)
    # action term = Q - V = tau log(pi / pi0)
    np.testing.assert_allclose(ds.action_term(q, tau, prior), tau * np.log(pi / prior), atol=1e-12)


def test_prior_with_zero_excludes_action():
    pi = ds.boltzmann_policy([5.0, 0.0, 1.0], tau=1.0, prior=[0.0, 0.5, 0.5])
    assert pi[0] == 0.0
    assert ds.policy_kl([5.0, 0.0, 1.0], tau=1.0, prior=[0.0, 0.5, 0.5]) >= 0


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_tau_is_named(tau):
    with pytest.raises(ValueError, match="tau"):
        ds.soft_value([0.0, 1.0], tau=tau)


def _plain_soft_vi(P, R, gamma, tau, prior, terminal, sweeps=3000):
    """Soft value iteration written with explicit loops (an independent oracle)."""
    n_s, n_a, _ = P.shape
    q = [[0.0] * n_a for _ in range(n_s)]
    for _ in range(sweeps):
        v = []
        for s in range(n_s):
            if s in terminal:
                v.append(0.0)
                continue
            m = max(q[s])
            v.append(m + tau * math.log(sum(prior[s][a] * math.exp((q[s][a] - m) / tau) for a in range(n_a))))
        q = [
            [R[s][a] + gamma * sum(P[s][a][t] * v[t] for t in range(n_s)) for a in range(n_a)]
            for s in range(n_s)
        ]
    return np.array(q)


def test_soft_value_iteration_matches_plain_oracle_and_bellman_fixed_point():
    mdp = random_mdp(4, 3, seed=3)
    rng = np.random.default_rng(4)
    prior = rng.dirichlet(np.ones(3), size=4)
    res = ds.soft_value_iteration(mdp.P, mdp.R, gamma=0.9, tau=0.5, prior=prior)
    oracle = _plain_soft_vi(mdp.P, mdp.R, 0.9, 0.5, prior, terminal=())
    np.testing.assert_allclose(res.q, oracle, atol=1e-9)
    # fixed point: Q = R + gamma P V(Q)
    np.testing.assert_allclose(res.q, mdp.R + 0.9 * mdp.P @ ds.soft_value(res.q, 0.5, prior), atol=1e-10)
    np.testing.assert_allclose(res.policy, ds.boltzmann_policy(res.q, 0.5, prior))


def test_soft_value_iteration_hand_worked_chain_with_terminal():
    # 0 --(a=1, r=1)--> 1 (terminal); a=0 stays in 0 with r=0; gamma = 1, tau = 1, uniform prior.
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1
    P[0, 1, 1] = 1
    P[1, :, 1] = 1
    R = np.array([[0.0, 1.0], [0.0, 0.0]])
    res = ds.soft_value_iteration(P, R, gamma=1.0, tau=1.0, terminal=[1])
    # Q(0,1) = 1, Q(0,0) = V(0) = log(e^{V}/2 + e/2)  =>  e^{V} = e^{V}/2 + e/2  =>  V = 1
    np.testing.assert_allclose(res.q[0], [1.0, 1.0], atol=1e-9)
    assert res.v[1] == 0.0 and res.v[0] == pytest.approx(1.0, abs=1e-9)


def test_soft_value_iteration_small_tau_is_ordinary_value_iteration():
    mdp = random_mdp(5, 2, seed=5)
    res = ds.soft_value_iteration(mdp.P, mdp.R, gamma=0.8, tau=1e-4)
    q = np.zeros((5, 2))
    for _ in range(500):
        q = mdp.R + 0.8 * mdp.P @ q.max(axis=1)
    # soft values lie within tau log(n_actions) gamma / (1 - gamma) below the hard ones
    assert np.all(res.q <= q + 1e-9)
    assert np.max(np.abs(res.q - q)) <= 1e-4 * math.log(2) * 0.8 / 0.2 + 1e-9
    assert np.max(np.abs(res.q - q)) > 0


def test_soft_value_iteration_errors():
    P = np.ones((2, 2, 2)) / 2
    with pytest.raises(ValueError, match="R must have shape"):
        ds.soft_value_iteration(P, np.zeros(3), gamma=0.9, tau=1.0)
    with pytest.raises(ValueError, match="P must"):
        ds.soft_value_iteration(np.ones((2, 2, 2)), np.zeros((2, 2)), gamma=0.9, tau=1.0)
    with pytest.raises(ValueError, match="gamma"):
        ds.soft_value_iteration(P, np.zeros((2, 2)), gamma=1.5, tau=1.0)
    with pytest.raises(ValueError, match="did not converge"):
        ds.soft_value_iteration(P, np.ones((2, 2)), gamma=1.0, tau=1.0, max_iter=50)
    with pytest.raises(ValueError, match="prior"):
        ds.soft_value_iteration(P, np.zeros((2, 2)), gamma=0.9, tau=1.0, prior=[0.5, 0.6])

"""Policy compression (docs/maths.md §7): one learned default policy shared by all states.

Ground truths: the plain Soft Q(λ) oracle of ``tests/oracles.py`` with one shared prior list moved by
hand after each step, the closed form of the exponentially weighted average of all the choices, and the
discrimination task, where the per-state habit collapses onto the policy and the shared one cannot.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from oracles import PlainSoftQLambda  # noqa: E402

import dopasoft as ds  # noqa: E402
from dopasoft.experiments.discrimination import discrimination_experiment  # noqa: E402
from dopasoft.tasks.mdp import random_mdp  # noqa: E402

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


@pytest.mark.parametrize("trace", ["tree-backup", "on-policy", "uncorrected"])
@pytest.mark.parametrize("linear", [False, True])
def test_marginal_prior_matches_a_plain_oracle_with_one_shared_prior(trace, linear):
    """Random episodes on a random MDP: Q, the shared pi0 and every step's signals as the oracle's."""
    n_s, n_a, rate, tau = 4, 3, 0.1, 0.7
    mdp = random_mdp(n_s, n_a, seed=3)
    agent = ds.SoftQLambda(
        n_s, n_a, alpha=0.3, tau=tau, lam=0.6, gamma=0.9, trace=trace, prior_rate=rate,
        prior_scope="marginal", linear=linear,
    )  # fmt: skip
    shared = [1.0 / n_a] * n_a
    oracle = PlainSoftQLambda(n_s, n_a, 0.3, tau, 0.6, 0.9, trace, prior=[shared] * n_s)
    rng = np.random.default_rng(0)
    eye = np.eye(n_s)
    for _ in range(60):
        s = int(rng.integers(n_s))
        for _ in range(8):
            a = int(rng.integers(n_a))
            s2 = int(rng.choice(n_s, p=mdp.P[s, a]))
            r = float(mdp.R[s, a])
            terminated = bool(rng.random() < 0.2)
            pe = 1.0 - shared[a]
            d = oracle.update(s, a, r, s2, terminated)
            for b in range(n_a):  # the one shared row moves towards e_a, whatever the state
                shared[b] += rate * ((b == a) - shared[b])
            got = agent.update(eye[s] if linear else s, a, r, eye[s2] if linear else s2, terminated)
            assert got == pytest.approx(d, rel=1e-12, abs=1e-12)
            assert agent.last_step.action_pe == pytest.approx(pe, abs=1e-15)
            if terminated:
                break
            s = s2
    np.testing.assert_allclose(agent.q, oracle.q, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(agent.prior, shared, rtol=0, atol=1e-14)
    for s in range(n_s):
        np.testing.assert_allclose(agent.default_policy(eye[s] if linear else s), shared, rtol=0, atol=1e-14)


def test_marginal_prior_is_the_weighted_average_of_every_choice():
    """pi0 after n steps = (1 - a)^n pi0_0 + sum_k a (1 - a)^(n - k) e_{a_k}, over all states' choices."""
    rate = 0.05
    agent = ds.SoftQLambda(3, 2, alpha=0.2, tau=0.5, lam=0.0, prior_rate=rate, prior_scope="marginal")
    rng = np.random.default_rng(1)
    states, actions = rng.integers(3, size=200), rng.integers(2, size=200)
    for s, a in zip(states, actions, strict=True):
        agent.update(int(s), int(a), float(rng.random()), None, True)
    n = len(actions)
    weights = rate * (1 - rate) ** (n - 1 - np.arange(n))
    expect = (1 - rate) ** n * np.full(2, 0.5) + weights @ np.eye(2)[actions]
    np.testing.assert_allclose(agent.prior, expect, rtol=0, atol=1e-13)
    assert agent.prior.shape == (2,) and agent.prior_scope == "marginal"


def test_fixed_prior_is_the_same_agent_in_either_scope():
    kw = {"alpha": 0.3, "tau": 0.5, "lam": 0.8, "gamma": 0.9, "prior": [0.2, 0.8]}
    a, b = ds.SoftQLambda(3, 2, **kw), ds.SoftQLambda(3, 2, **kw, prior_scope="marginal")
    rng = np.random.default_rng(2)
    for _ in range(100):
        s, act, s2 = int(rng.integers(3)), int(rng.integers(2)), int(rng.integers(3))
        assert a.update(s, act, 1.0, s2, False) == b.update(s, act, 1.0, s2, False)
    assert (a.q == b.q).all() and a.last_step == b.last_step


def test_soft_signals_persist_under_compression_and_vanish_under_a_per_state_habit():
    """After training, a per-state pi0 equals pi (the KL term and the action term vanish); the shared
    pi0 is the marginal of the two cues' opposite actions, about (1/2, 1/2), so tau log(pi/pi0) stays."""
    tables = {
        scope: discrimination_experiment(400, prior_rate=0.05, prior_scope=scope, seed=0)
        for scope in ("per-state", "marginal")
    }
    habit, compressed = (tables[k].iloc[-50:] for k in ("per-state", "marginal"))
    assert habit["correct"].all() and compressed["correct"].all()
    assert habit["action_term"].abs().mean() < 1e-3
    assert habit["action_pe"].mean() < 1e-3
    # the oracle of the action term: tau log(pi / pi0) with the table's own probabilities
    term = 0.25 * np.log(compressed["p_action"] / compressed["prior_action"])
    np.testing.assert_allclose(compressed["action_term"], term, rtol=1e-12)
    assert compressed["action_term"].mean() > 0.1
    # the shared pi0 tracks the choice marginal; the cue sequence is balanced, so it stays near 1/2
    assert 0.3 < compressed["action_pe"].mean() < 0.7
    # value-free still: the same choices with swapped outcomes leave action_pe unchanged
    swapped = discrimination_experiment(
        400, prior_rate=0.05, prior_scope="marginal", seed=0,
        actions=tables["marginal"]["action"].tolist(), reward=0.0, error_reward=1.0,
    )  # fmt: skip
    assert (swapped["action_pe"] == tables["marginal"]["action_pe"]).all()


def test_bad_prior_scope_is_refused():
    with pytest.raises(
        ValueError, match=r"prior_scope must be one of \['per-state', 'marginal'\], got 'shared'"
    ):
        ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, prior_scope="shared")
    with pytest.raises(ValueError, match=r"prior must have shape \(n_actions,\), got \(2, 2\)"):
        ds.SoftQLambda(2, 2, alpha=0.1, tau=1.0, lam=0.0, prior=np.full((2, 2), 0.5), prior_scope="marginal")

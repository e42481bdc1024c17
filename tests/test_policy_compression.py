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


# -- the fitting option ``compression``: the learner above, fitted ---------------------------------------


@pytest.mark.parametrize("data", ["two-step", "steps"])
def test_compression_replay_equals_the_marginal_learner_step_by_step(data):
    """p_choice, delta, action_term and action_pe of ``+compression`` equal
    ds.SoftQLambda(prior_rate=alpha_pi, prior_scope="marginal") on the same choices; -sum log p is the NLL."""
    import math

    from fitting_oracles import random_two_step
    from test_habit import random_steps

    import dopasoft.fitting as F

    df = random_two_step(2, 40, seed=7, missing=0.1) if data == "two-step" else random_steps(seed=7)
    p = dict(alpha=0.35, tau=0.4, lam=0.6, alpha_pi=0.3)
    spec = "soft-q-lambda+compression+gamma=0.9"
    sig = F.replay(df, spec, p)
    nll = F.negative_log_likelihood(df, spec, p)
    per = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(per[nll.index].to_numpy(), nll.to_numpy(), rtol=0, atol=1e-10)
    habit = F.negative_log_likelihood(df, "soft-q-lambda+habit+gamma=0.9", p)
    assert np.all(np.abs(habit.to_numpy() - nll.to_numpy()) > 1e-3)  # another model than the habit
    tr = F.to_transitions(df)
    for i, subject in enumerate(tr.subjects):
        rows = sig[sig["subject"] == subject].reset_index(drop=True)
        agent = ds.SoftQLambda(
            tr.n_states, tr.n_actions, alpha=0.35, tau=0.4, lam=0.6, gamma=0.9, prior_rate=0.3,
            prior_scope="marginal",
        )  # fmt: skip
        for t in range(tr.n_steps[i]):
            s, a, term = int(tr.state[i, t]), int(tr.action[i, t]), bool(tr.terminal[i, t])
            if a < 0:
                if term:
                    agent.reset_traces()
                assert math.isnan(rows["action_pe"][t])
                continue
            behaviour = agent.policy(s)[a]
            agent.update(s, a, float(tr.reward[i, t]), None if term else int(tr.next_state[i, t]), term)
            step = agent.last_step
            assert rows["p_choice"][t] == pytest.approx(behaviour, rel=0, abs=1e-12)
            assert rows["delta"][t] == pytest.approx(step.delta, rel=0, abs=1e-12)
            assert rows["action_term"][t] == pytest.approx(step.action_term, rel=0, abs=1e-12)
            assert rows["action_pe"][t] == pytest.approx(step.action_pe, rel=0, abs=1e-15)
        assert np.abs(agent.prior - 1.0 / tr.n_actions).max() > 5e-3  # the shared default policy moved
        assert rows["action_pe"].std() > 0.02


def test_compression_gradient_matches_difference_quotients():
    from test_habit import random_steps

    import dopasoft.fitting as F

    model = F.get_model("soft-q-lambda+compression+kappa")
    tr = F.to_transitions(random_steps(seed=9))
    rng = np.random.default_rng(1)
    theta = np.column_stack(
        [rng.uniform(*p.start, size=4) if p.name != "kappa" else rng.uniform(-1, 1, 4) for p in model.params]
    )
    subj = np.array([0, 1, 0, 1], np.int64)
    _, grad = model.nll_grad_pairs(tr, subj, theta)
    h = 1e-6
    for j in range(model.n_params):
        up, down = theta.copy(), theta.copy()
        up[:, j] += h
        down[:, j] -= h
        fd = (model.nll_pairs(tr, subj, up) - model.nll_pairs(tr, subj, down)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-5, atol=1e-5, err_msg=model.param_names[j])


def test_compression_two_step_simulation_draws_from_the_fitted_model():
    """Each simulated choice is the one its uniform selects under the likelihood's own p_choice."""
    import pandas as pd

    import dopasoft.fitting as F
    from dopasoft.fitting.simulate import two_step_reward_probabilities

    model = F.get_model("soft-q-lambda+compression")
    params = dict(alpha=0.3, tau=0.15, lam=0.5, alpha_pi=0.2)
    theta = np.array([[params[k] for k in model.param_names]] * 2)
    rng = np.random.default_rng(2)
    n = 120
    probs = two_step_reward_probabilities(2, n, rng)
    u = rng.uniform(size=(2, n, 4))
    c1, s2, c2, r = model.simulate_arrays(theta, probs, u)
    df = pd.DataFrame(
        dict(subject=np.repeat(["a", "b"], n), trial=np.tile(np.arange(1, n + 1), 2), choice1=c1.ravel(),
             state2=s2.ravel(), choice2=c2.ravel(), reward=r.ravel())
    )  # fmt: skip
    sig = F.replay(df, model, params)
    p0 = np.where(sig["action"] == 0, sig["p_choice"], 1.0 - sig["p_choice"]).astype(float)
    draws = np.stack([u[:, :, 0], u[:, :, 2]], axis=-1).ravel()
    np.testing.assert_array_equal(sig["action"].to_numpy() == 0, draws < p0)
    habit = F.get_model("soft-q-lambda+habit").simulate_arrays(theta, probs, u)
    assert (habit[2] != c2).any() or (habit[0] != c1).any()  # the shared pi0 is in the simulation


def test_compression_and_habit_are_refused_together():
    import dopasoft.fitting as F

    with pytest.raises(ValueError, match="options habit and compression cannot be combined"):
        F.get_model("soft-q-lambda+habit+compression")


def test_plot_policy_compression():
    from dopasoft.analysis import plot_policy_compression

    habit = discrimination_experiment(200, prior_scope="per-state", seed=1)
    shared = discrimination_experiment(200, prior_scope="marginal", seed=1)
    fig = plot_policy_compression(habit, shared)
    a, b = fig.axes
    assert len(a.get_lines()) == len(b.get_lines()) == 3  # two runs and the zero line
    # the running mean is centred: its last point averages the last 6 trials (window 10)
    assert a.get_lines()[1].get_ydata()[-1] == pytest.approx(shared["action_term"].iloc[-6:].mean())
    with pytest.raises(ValueError, match="marginal has no column 'action_pe'"):
        plot_policy_compression(habit, shared.drop(columns="action_pe"))

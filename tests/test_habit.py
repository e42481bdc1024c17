"""The ``habit`` option of the Soft Q(λ) choice models: a default policy learned with rate ``alpha_pi``.

Ground truth: plain per-trial oracles (tests/fitting_oracles.py), the public learner
``ds.SoftQLambda(prior_rate=alpha_pi)`` driven step by step over the same choices, the model without
the option (``alpha_pi = 0``), difference quotients of the likelihood, and the uniforms the generator
drew (docs/maths.md §7, docs/fitting.md "Habits").
"""

import math

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step, softq_steps_oracle, softq_two_step_oracle

import dopasoft as ds
import dopasoft.fitting as F
from dopasoft.fitting.simulate import reversal_probabilities, two_step_reward_probabilities

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def random_steps(n_subjects=2, n_trials=40, seed=0, missing=0.1):
    """Step-format data: trials of 1-3 steps through 4 states, 3 actions, missed choices."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for t in range(n_trials):
            length = int(rng.integers(1, 4))
            for j in range(length):
                state = int(rng.integers(2)) if j == 0 else int(rng.integers(2, 4))
                choice = float(rng.integers(3)) if rng.uniform() >= missing else np.nan
                rows.append((f"p{s}", t + 1, state, choice, float(rng.normal()), j == length - 1))
    return pd.DataFrame(rows, columns=["subject", "trial", "state", "choice", "reward", "terminal"])


def random_bandit(n_subjects=2, n_trials=80, seed=0, missing=0.1):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for t in range(n_trials):
            c = float(rng.integers(3)) if rng.uniform() >= missing else np.nan
            rows.append((f"b{s}", t + 1, c, float(rng.uniform(0, 1))))
    return pd.DataFrame(rows, columns=["subject", "trial", "choice", "reward"])


TWO_STEP = dict(alpha=0.4, tau=0.3, lam=0.7)


@pytest.mark.parametrize("kappa", [None, 0.8])
@pytest.mark.parametrize("trace", ["tree-backup", "on-policy", "uncorrected"])
def test_two_step_likelihood_equals_plain_oracle(kappa, trace):
    df = random_two_step(n_subjects=3, n_trials=60, seed=3, missing=0.1)
    name = {"tree-backup": "soft-q-lambda", "on-policy": "soft-q-lambda-on-policy"}.get(
        trace, "soft-q-lambda-uncorrected"
    )
    params = dict(TWO_STEP, alpha_pi=0.3)
    if kappa is not None:
        params["kappa"] = kappa
    model = F.get_model(name, habit=True, kappa=kappa is not None)
    got = F.negative_log_likelihood(df, model, params)
    want = softq_two_step_oracle(df, trace=trace, **params)
    np.testing.assert_allclose(got.to_numpy(), want[got.index].to_numpy(), rtol=0, atol=1e-9)
    # the habit changes the likelihood (the oracle is not trivially the fixed-prior one)
    fixed = softq_two_step_oracle(df, trace=trace, **{**params, "alpha_pi": 0.0})
    assert np.all(np.abs(want - fixed) > 1e-3)


@pytest.mark.parametrize("kappa", [0.0, -0.6])
def test_bandit_likelihood_equals_plain_oracle(kappa):
    df = random_bandit(seed=4)
    params = dict(alpha=0.5, tau=0.2, alpha_pi=0.25, kappa=kappa)
    got = F.negative_log_likelihood(df, "soft-q+habit+kappa", params)
    want = softq_steps_oracle(df, lam=0.0, **params)
    np.testing.assert_allclose(got.to_numpy(), want[got.index].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("trace", ["tree-backup", "uncorrected"])
def test_step_format_likelihood_equals_plain_oracle(trace):
    df = random_steps(seed=5)
    params = dict(alpha=0.3, tau=0.5, lam=0.8, kappa=0.7, alpha_pi=0.4)
    name = "soft-q-lambda" if trace == "tree-backup" else "soft-q-lambda-uncorrected"
    got = F.negative_log_likelihood(df, f"{name}+habit+kappa+gamma=0.9", params)
    want = softq_steps_oracle(df, trace=trace, gamma=0.9, **params)
    np.testing.assert_allclose(got.to_numpy(), want[got.index].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("data", "spec", "params"),
    [
        ("two-step", "soft-q-lambda+kappa", dict(TWO_STEP, kappa=0.5)),
        ("two-step", "soft-q-lambda-on-policy+separate_tau", dict(alpha=0.4, tau1=0.3, tau2=0.6, lam=0.5)),
        ("bandit", "soft-q+kappa", dict(alpha=0.4, tau=0.3, kappa=-0.4)),
        ("steps", "soft-q-lambda-uncorrected", dict(alpha=0.3, tau=0.5, lam=0.8)),
    ],
)
def test_alpha_pi_zero_is_the_model_without_the_option(data, spec, params):
    df = {"two-step": random_two_step(3, 50, seed=6, missing=0.1), "bandit": random_bandit(seed=6)}.get(
        data, random_steps(seed=6)
    )
    base = F.negative_log_likelihood(df, spec, params)
    habit = F.negative_log_likelihood(df, spec + "+habit", dict(params, alpha_pi=0.0))
    np.testing.assert_array_equal(habit.to_numpy(), base.to_numpy())
    r0 = F.replay(df, spec, params)
    r1 = F.replay(df, spec + "+habit", dict(params, alpha_pi=0.0))
    pd.testing.assert_frame_equal(r0, r1)
    # and the habit model at alpha_pi > 0 is another model
    other = F.negative_log_likelihood(df, spec + "+habit", dict(params, alpha_pi=0.3))
    assert np.all(np.abs(other.to_numpy() - base.to_numpy()) > 1e-3)


@pytest.mark.parametrize("data", ["two-step", "bandit", "steps"])
def test_replay_equals_the_learned_prior_learner_step_by_step(data):
    """p_choice, delta, action_term and action_pe equal ds.SoftQLambda(prior_rate=alpha_pi) on the same
    choices, and -sum(log p_choice) is the NLL."""
    df = {"two-step": random_two_step(2, 40, seed=7, missing=0.1), "bandit": random_bandit(seed=7)}.get(
        data, random_steps(seed=7)
    )
    p = dict(alpha=0.35, tau=0.4, lam=0.6, kappa=0.9, alpha_pi=0.3)
    spec = "soft-q-lambda+habit+kappa"
    if data == "bandit":
        spec, p = "soft-q+habit+kappa", {k: v for k, v in p.items() if k != "lam"}
    sig = F.replay(df, spec, p)
    nll = F.negative_log_likelihood(df, spec, p)
    per = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(per[nll.index].to_numpy(), nll.to_numpy(), rtol=0, atol=1e-10)
    tr = F.to_transitions(df)
    stage0 = set(np.nonzero(tr.state_stage == 0)[0].tolist())
    for i, subject in enumerate(tr.subjects):
        rows = sig[sig["subject"] == subject].reset_index(drop=True)
        agent = ds.SoftQLambda(
            tr.n_states, tr.n_actions, alpha=p["alpha"], tau=p["tau"], lam=p.get("lam", 0.0), prior_rate=0.3
        )
        last = {}
        for t in range(tr.n_steps[i]):
            s, a, term = int(tr.state[i, t]), int(tr.action[i, t]), bool(tr.terminal[i, t])
            if a < 0:
                if term:
                    agent.reset_traces()
                assert math.isnan(rows["action_pe"][t])
                continue
            behaviour = agent.policy(s).copy()
            if s in stage0 and s in last:
                behaviour[last[s]] *= math.exp(p["kappa"])
                behaviour /= behaviour.sum()
            agent.update(s, a, float(tr.reward[i, t]), None if term else int(tr.next_state[i, t]), term)
            step = agent.last_step
            assert rows["p_choice"][t] == pytest.approx(behaviour[a], rel=0, abs=1e-12)
            assert rows["delta"][t] == pytest.approx(step.delta, rel=0, abs=1e-12)
            assert rows["action_term"][t] == pytest.approx(step.action_term, rel=0, abs=1e-12)
            assert rows["action_pe"][t] == pytest.approx(step.action_pe, rel=0, abs=1e-15)
            last[s] = a
        assert np.ptp(agent.prior) > 0.1  # the default policies did move


def test_action_pe_of_a_fixed_prior_is_one_minus_one_over_the_number_of_actions():
    df = random_bandit(seed=8)  # three arms
    sig = F.replay(df, "soft-q", dict(alpha=0.3, tau=0.5))
    chosen = sig["action"].notna()
    np.testing.assert_array_equal(sig.loc[chosen, "action_pe"].to_numpy(), 1.0 - 1.0 / 3.0)
    assert sig.loc[~chosen, "action_pe"].isna().all()


@pytest.mark.parametrize(
    ("data", "spec"), [("two-step", "soft-q-lambda+habit+kappa"), ("steps", "soft-q-lambda-on-policy+habit")]
)
def test_gradient_matches_difference_quotients(data, spec):
    df = random_two_step(2, 40, seed=9, missing=0.1) if data == "two-step" else random_steps(seed=9)
    model = F.get_model(spec)
    tr = F.to_transitions(df)
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


@pytest.mark.parametrize("task", ["two-step", "bandit"])
def test_simulation_draws_from_the_fitted_model(task):
    """Each simulated choice is the one the uniform drawn for it selects under the likelihood's own
    p_choice (two actions: choice 0 iff u < P(0)), so generator and likelihood are one model."""
    spec = "soft-q-lambda+habit+kappa" if task == "two-step" else "soft-q+habit+kappa"
    model = F.get_model(spec)
    params = dict(alpha=0.3, tau=0.15, lam=0.5, kappa=-0.5, alpha_pi=0.2)
    params = {k: v for k, v in params.items() if k in model.param_names}
    theta = np.array([[params[k] for k in model.param_names]] * 3)
    rng = np.random.default_rng(2)
    n_trials = 120
    if task == "two-step":
        probs = two_step_reward_probabilities(3, n_trials, rng)
        u = rng.uniform(size=(3, n_trials, 4))
        c1, s2, c2, r = model.simulate_arrays(theta, probs, u)
        df = pd.DataFrame(
            dict(
                subject=np.repeat(["a", "b", "c"], n_trials),
                trial=np.tile(np.arange(1, n_trials + 1), 3),
                choice1=c1.ravel(),
                state2=s2.ravel(),
                choice2=c2.ravel(),
                reward=r.ravel(),
            )
        )
        draws = np.stack([u[:, :, 0], u[:, :, 2]], axis=-1).ravel()
    else:
        probs = reversal_probabilities(3, n_trials)
        u = rng.uniform(size=(3, n_trials, 2))
        ch, r = model.simulate_arrays(theta, probs, u)
        df = pd.DataFrame(
            dict(
                subject=np.repeat(["a", "b", "c"], n_trials),
                trial=np.tile(np.arange(1, n_trials + 1), 3),
                choice=ch.ravel(),
                reward=r.ravel(),
            )
        )
        draws = u[:, :, 0].ravel()
    sig = F.replay(df, model, params)
    p0 = np.where(sig["action"] == 0, sig["p_choice"], 1.0 - sig["p_choice"]).astype(float)
    np.testing.assert_array_equal(sig["action"].to_numpy() == 0, draws < p0)
    # and the habit is in the simulation: the same uniforms without it give other choices
    base = F.get_model(spec.replace("+habit", ""))
    theta0 = np.array([[params[k] for k in base.param_names]] * 3)
    other = base.simulate_arrays(theta0, probs, u)
    assert (other[0] != (c1 if task == "two-step" else ch)).any()


def test_habit_option_on_the_command_line_and_in_specs():
    model = F.get_model("soft-q-lambda", habit=True)
    assert model.param_names[-1] == "alpha_pi" and model.spec == "soft-q-lambda+habit"
    assert F.get_model("soft-q-lambda+habit+kappa").param_names[-2:] == ("kappa", "alpha_pi")
    with pytest.raises(ValueError, match="alpha_pi"):
        F.negative_log_likelihood(random_bandit(), "soft-q+habit", dict(alpha=0.3, tau=0.3, alpha_pi=1.0))


def test_command_line_fits_habits_and_replays_action_pe(tmp_path):
    from dopasoft.cli import main

    data = tmp_path / "ts.csv"
    random_two_step(n_subjects=2, n_trials=30, seed=12).to_csv(data, index=False)
    fits, signals = tmp_path / "fits.csv", tmp_path / "signals.csv"
    assert (
        main(
            [
                "fit",
                str(data),
                "--model",
                "soft-q+habit",
                "--out",
                str(fits),
                "--n-starts",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    table = pd.read_csv(fits)
    assert set(table["model"]) == {"soft-q+habit"} and table["alpha_pi"].between(0, 1).all()
    args = ["replay", str(data), "--model", "soft-q+habit", "--fits", str(fits), "--out", str(signals)]
    assert main([*args, "--quiet"]) == 0
    sig = pd.read_csv(signals)
    nll = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(nll[table["subject"]].to_numpy(), table["nll"].to_numpy(), rtol=0, atol=1e-8)
    assert sig["action_pe"].between(0, 1).all()


@pytest.mark.parametrize("trace", ["tree-backup", "on-policy"])
def test_long_episodes_with_habits_replay_the_public_learner(trace):
    """Traces spanning revisits and self-transitions: the step's remembered log-sum-exp of V(s') must
    never outlive a change of that state's learned pi0 (checked against ds.SoftQLambda(prior_rate))."""
    from test_fitting_likelihood import _random_episodes

    tr = _random_episodes(4, 3, 400, seed=21)
    name = "soft-q-lambda" if trace == "tree-backup" else "soft-q-lambda-on-policy"
    model = F.get_model(name, gamma=0.9, habit=True)
    p = dict(alpha=0.4, tau=0.6, lam=0.9, alpha_pi=0.2)
    agent = ds.SoftQLambda(4, 3, alpha=0.4, tau=0.6, lam=0.9, gamma=0.9, trace=trace, prior_rate=0.2)
    nll = 0.0
    for t in range(tr.n_steps[0]):
        s, a, term = int(tr.state[0, t]), int(tr.action[0, t]), bool(tr.terminal[0, t])
        if a < 0:
            if term:
                agent.reset_traces()
            continue
        nll -= math.log(agent.policy(s)[a])
        agent.update(s, a, float(tr.reward[0, t]), None if term else int(tr.next_state[0, t]), term)
    theta = np.array([[p[k] for k in model.param_names]])
    assert abs(model.nll_pairs(tr, np.zeros(1, np.int64), theta)[0] - nll) < 1e-9

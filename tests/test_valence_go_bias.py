"""Options ``valence`` (alpha_pos, alpha_neg) and ``go_bias`` (pi0(go) = sigmoid(go_bias)) of the Soft Q(λ)
family (issue 12 item 3), against plain per-step oracles (tests/fitting_oracles.py), the models without
the options, difference quotients and the generator's own uniforms."""

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step, softq_steps_oracle, softq_two_step_oracle
from test_habit import random_bandit, random_steps

import dopasoft.fitting as F
from dopasoft.fitting.simulate import reversal_probabilities, two_step_reward_probabilities

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def random_gng(n_subjects=2, n_trials=120, seed=0, missing=0.05):
    """Go/no-go step data: four cue states, go = 1, outcomes in {-1, 0, 1}."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for t in range(n_trials):
            c = float(rng.integers(2)) if rng.uniform() >= missing else np.nan
            rows.append((f"g{s}", t + 1, int(rng.integers(4)), c, float(rng.choice([-1.0, 0.0, 1.0]))))
    return pd.DataFrame(rows, columns=["subject", "trial", "state", "choice", "reward"])


@pytest.mark.parametrize("trace", ["tree-backup", "on-policy", "uncorrected"])
def test_two_step_valence_equals_plain_oracle(trace):
    df = random_two_step(n_subjects=3, n_trials=60, seed=13, missing=0.1)
    name = {"tree-backup": "soft-q-lambda", "on-policy": "soft-q-lambda-on-policy"}.get(
        trace, "soft-q-lambda-uncorrected"
    )
    p = dict(alpha_pos=0.6, alpha_neg=0.15, tau=0.4, lam=0.7, kappa=0.5)
    got = F.negative_log_likelihood(df, f"{name}+valence+kappa", p)
    want = softq_two_step_oracle(df, alpha=0.6, alpha_neg=0.15, tau=0.4, lam=0.7, kappa=0.5, trace=trace)
    np.testing.assert_allclose(got.to_numpy(), want[got.index].to_numpy(), rtol=0, atol=1e-9)
    plain = softq_two_step_oracle(df, alpha=0.6, tau=0.4, lam=0.7, kappa=0.5, trace=trace)
    assert np.all(np.abs(want - plain) > 1e-3)  # the negative-error rate matters in these data


@pytest.mark.parametrize(
    ("data", "spec", "params", "oracle"),
    [
        ("bandit", "soft-q+valence", dict(alpha_pos=0.2, alpha_neg=0.7, tau=0.3), dict(lam=0.0)),
        (
            "steps",
            "soft-q-lambda+valence+habit+gamma=0.9",
            dict(alpha_pos=0.5, alpha_neg=0.1, tau=0.5, lam=0.8, alpha_pi=0.3),
            dict(gamma=0.9),
        ),
        ("gng", "soft-q+go_bias", dict(alpha=0.3, tau=0.5, go_bias=1.2), dict(lam=0.0)),
        (
            "gng",
            "soft-q+go_bias+habit+valence+kappa",
            dict(alpha_pos=0.3, alpha_neg=0.6, tau=0.5, go_bias=-0.8, alpha_pi=0.1, kappa=0.4),
            dict(lam=0.0),
        ),
    ],
)
def test_step_and_bandit_options_equal_plain_oracle(data, spec, params, oracle):
    df = {"bandit": random_bandit(seed=14), "gng": random_gng(seed=14)}.get(data, random_steps(seed=14))
    got = F.negative_log_likelihood(df, spec, params)
    kw = dict(params, **oracle)
    if "alpha_pos" in kw:
        kw["alpha"] = kw.pop("alpha_pos")
    want = softq_steps_oracle(df, **kw)
    np.testing.assert_allclose(got.to_numpy(), want[got.index].to_numpy(), rtol=0, atol=1e-9)


def test_two_step_go_bias_with_habit_equals_plain_oracle():
    df = random_two_step(n_subjects=2, n_trials=60, seed=15, missing=0.1)
    p = dict(alpha=0.4, tau=0.3, lam=0.6, go_bias=0.9, alpha_pi=0.2)
    got = F.negative_log_likelihood(df, "soft-q-lambda+go_bias+habit", p)
    want = softq_two_step_oracle(df, **p)
    np.testing.assert_allclose(got.to_numpy(), want[got.index].to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("data", ["two-step", "gng"])
def test_neutral_values_are_the_model_without_the_options(data):
    df = random_two_step(2, 50, seed=16, missing=0.1) if data == "two-step" else random_gng(seed=16)
    spec, base = "soft-q-lambda+kappa", dict(tau=0.4, lam=0.6, kappa=0.3)
    ref = F.negative_log_likelihood(df, spec, dict(base, alpha=0.35))
    same = F.negative_log_likelihood(
        df, spec + "+valence+go_bias", dict(base, alpha_pos=0.35, alpha_neg=0.35, go_bias=0.0)
    )
    np.testing.assert_array_equal(same.to_numpy(), ref.to_numpy())
    r0 = F.replay(df, spec, dict(base, alpha=0.35))
    r1 = F.replay(df, spec + "+valence+go_bias", dict(base, alpha_pos=0.35, alpha_neg=0.35, go_bias=0.0))
    pd.testing.assert_frame_equal(r0, r1)


def test_refusals_name_the_option():
    with pytest.raises(ValueError, match="valence and separate_alpha"):
        F.get_model("soft-q-lambda", valence=True, separate_alpha=True)
    with pytest.raises(ValueError, match="go_bias needs two actions"):
        F.negative_log_likelihood(random_bandit(), "soft-q+go_bias", dict(alpha=0.3, tau=0.3, go_bias=0.5))


def test_gradient_matches_difference_quotients():
    df = random_gng(seed=17)
    model = F.get_model("soft-q-lambda+valence+go_bias+habit+kappa")
    tr = F.to_transitions(df)
    rng = np.random.default_rng(3)
    theta = np.column_stack([rng.uniform(*p.start, size=4) for p in model.params])
    subj = np.array([0, 1, 1, 0], np.int64)
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
    model = F.get_model("soft-q-lambda+valence+go_bias" if task == "two-step" else "soft-q+valence+go_bias")
    params = dict(alpha_pos=0.5, alpha_neg=0.1, tau=0.2, lam=0.5, go_bias=0.7)
    params = {k: v for k, v in params.items() if k in model.param_names}
    theta = np.array([[params[k] for k in model.param_names]] * 3)
    rng = np.random.default_rng(4)
    n, subjects = 100, np.repeat(["a", "b", "c"], 100)
    trial = np.tile(np.arange(1, n + 1), 3)
    if task == "two-step":
        probs = two_step_reward_probabilities(3, n, rng)
        u = rng.uniform(size=(3, n, 4))
        c1, s2, c2, r = model.simulate_arrays(theta, probs, u)
        cols = dict(choice1=c1.ravel(), state2=s2.ravel(), choice2=c2.ravel(), reward=r.ravel())
        draws = np.stack([u[:, :, 0], u[:, :, 2]], axis=-1).ravel()
    else:
        probs = reversal_probabilities(3, n)
        u = rng.uniform(size=(3, n, 2))
        ch, r = model.simulate_arrays(theta, probs, u)
        cols = dict(choice=ch.ravel(), reward=r.ravel())
        draws = u[:, :, 0].ravel()
    df = pd.DataFrame(dict(subject=subjects, trial=trial, **cols))
    sig = F.replay(df, model, params)
    p0 = np.where(sig["action"] == 0, sig["p_choice"], 1.0 - sig["p_choice"]).astype(float)
    np.testing.assert_array_equal(sig["action"].to_numpy() == 0, draws < p0)

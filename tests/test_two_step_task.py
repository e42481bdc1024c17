"""The two-step task: transitions, drifting rewards, canonical output and stay-probability signatures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft as ds
from dopasoft.simulation import simulate
from dopasoft.tasks.two_step import (
    CANONICAL_COLUMNS,
    HybridTwoStepAgent,
    TwoStepTask,
    check_reward_probs,
    drifting_reward_probs,
    reflect,
    simulate_two_step,
    stay_probabilities,
    to_canonical,
)


def play(task, n, seed=0):
    """Random play: (choice1, state2, choice2, reward, reward_prob) per trial."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        obs, _ = task.reset(seed=seed if k == 0 else None)
        assert obs == 0
        a1 = int(rng.integers(2))
        obs, r1, term1, _, info1 = task.step(a1)
        assert obs == 1 + info1["state2"] and r1 == 0.0 and not term1
        a2 = int(rng.integers(2))
        _, r2, term2, _, info2 = task.step(a2)
        assert term2
        out.append((a1, info1["state2"], a2, r2, info2["reward_prob"]))
    return np.array(out)


@pytest.mark.parametrize("p_common", [0.7, 0.8])
def test_transition_frequencies_match_the_set_probability(p_common):
    data = play(TwoStepTask(4000, p_common=p_common), 4000)
    common = np.mean(data[:, 0] == data[:, 1])
    assert abs(common - p_common) < 0.025  # ~3.5 sd


def test_deterministic_variant():
    task = TwoStepTask(500, deterministic=True, p_common=0.7)
    data = play(task, 500)
    assert np.all(data[:, 0] == data[:, 1])
    np.testing.assert_array_equal(task.reward_probs[:, :, 0], task.reward_probs[:, :, 1])


def test_rewards_follow_the_schedule():
    probs = np.zeros((300, 2, 2))
    probs[:, 1, :] = 1.0  # only state2 = 1 pays
    data = play(TwoStepTask(reward_probs=probs), 300)
    np.testing.assert_array_equal(data[:, 3], data[:, 1])
    np.testing.assert_array_equal(data[:, 4], data[:, 1])


def test_reward_probabilities_drift_within_bounds_with_set_sd():
    sd = 0.025
    p = drifting_reward_probs(6000, sd=sd, bounds=(0.25, 0.75), seed=1)
    assert p.shape == (6000, 2, 2)
    assert p.min() >= 0.25 and p.max() <= 0.75
    assert p.min() < 0.27 and p.max() > 0.73  # it does wander over the range
    steps = np.diff(p, axis=0)
    inside = (np.minimum(p[:-1], p[1:]) > 0.25 + 4 * sd) & (np.maximum(p[:-1], p[1:]) < 0.75 - 4 * sd)
    assert abs(steps[inside].std() - sd) < 0.1 * sd
    assert abs(steps[inside].mean()) < 0.05 * sd
    # the four walks are independent
    corr = np.corrcoef(steps.reshape(len(steps), 4).T)
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < 0.06
    np.testing.assert_array_equal(p, drifting_reward_probs(6000, sd=sd, seed=1))
    other = TwoStepTask(100, drift_sd=0.1, bounds=(0.1, 0.9), seed=3).reward_probs
    assert other.min() >= 0.1 and other.max() <= 0.9
    assert np.diff(other, axis=0).std() > 0.05


def test_reflect():
    np.testing.assert_allclose(reflect([0.8, 0.2, 0.5, 1.3, -0.3], 0.25, 0.75), [0.7, 0.3, 0.5, 0.3, 0.7])


@pytest.mark.parametrize(
    ("probs", "n_trials", "match"),
    [
        (np.full((10, 2), 0.5), None, "shape"),
        (np.full((10, 2, 3), 0.5), None, "shape"),
        (np.full((10, 2, 2), 1.5), None, r"\[0, 1\]"),
        (np.full((10, 2, 2), np.nan), None, r"\[0, 1\]"),
        (np.full((10, 2, 2), 0.5), 12, "10 trials but n_trials=12"),
    ],
)
def test_bad_schedules_are_rejected(probs, n_trials, match):
    with pytest.raises(ValueError, match="reward_probs"):
        check_reward_probs(probs, n_trials)
    with pytest.raises(ValueError, match=match):
        TwoStepTask(n_trials, reward_probs=probs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": -5}, "n_trials"),
        ({"p_common": 0.3}, "p_common"),
        ({"bounds": (0.8, 0.2)}, "bounds"),
        ({"drift_sd": -0.1}, "drift_sd"),
    ],
)
def test_bad_task_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoStepTask(**kwargs)


def test_reset_seed_reproduces_the_session_and_the_session_ends():
    task = TwoStepTask(50)
    a = play(task, 50, seed=7)
    b = play(task, 50, seed=7)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="only 50 trials"):
        task.reset()
    c = play(task, 50, seed=8)
    assert not np.array_equal(a[:, 4], c[:, 4])  # a new seed draws a new schedule


def test_canonical_output():
    agent = ds.SoftQLambda(3, 2, alpha=0.5, tau=0.2, lam=0.9)
    result = simulate(agent, TwoStepTask(30), seed=0)
    data = to_canonical(result, subject=4)
    assert tuple(data.columns) == CANONICAL_COLUMNS
    assert len(data) == 30 and (data["subject"] == 4).all()
    np.testing.assert_array_equal(data["trial"], np.arange(1, 31))
    for col in ("choice1", "state2", "choice2"):
        assert data[col].dtype.kind == "i" and set(data[col]) <= {0, 1}
    assert data["reward"].dtype == float
    steps = result.steps
    np.testing.assert_array_equal(data["state2"] + 1, steps.loc[steps["stage"] == 1, "next_state"])
    assert {"stage1_rpe", "stage2_rpe"} <= set(result.trials.columns)
    with pytest.raises(ValueError, match="two-step"):
        to_canonical(pd.DataFrame({"trial": [0]}))


def test_canonical_output_is_accepted_by_the_fitting_reader():
    data_module = pytest.importorskip("dopasoft.fitting.data")
    data = simulate_two_step(2, 20, seed=0)
    clean = data_module.validate_two_step(data)
    assert len(clean) == 40


def effects(data):
    sp = stay_probabilities(data)
    reward = sp.loc[True].mean() - sp.loc[False].mean()
    interaction = (sp.loc[True, "common"] - sp.loc[True, "rare"]) - (
        sp.loc[False, "common"] - sp.loc[False, "rare"]
    )
    return reward, interaction


def test_model_free_soft_q_lambda_shows_a_reward_main_effect():
    data = simulate_two_step(15, 200, model="soft-q-lambda", params={"lam": 1.0}, seed=11)
    reward, interaction = effects(data)
    assert reward > 0.15
    assert abs(interaction) < 0.1


def test_model_based_agent_shows_reward_by_transition_interaction():
    data = simulate_two_step(10, 200, model="model-based", seed=12)
    reward, interaction = effects(data)
    assert interaction > 0.2
    sp = stay_probabilities(data)
    assert sp.loc[True, "common"] > sp.loc[True, "rare"]
    assert sp.loc[False, "rare"] > sp.loc[False, "common"]


def test_stickiness_raises_stay_probability():
    plain = stay_probabilities(simulate_two_step(5, 200, seed=3)).to_numpy().mean()
    sticky_data = simulate_two_step(5, 200, params={"kappa": 2.0}, seed=3)
    sticky = stay_probabilities(sticky_data).to_numpy().mean()
    assert sticky > plain + 0.1


def test_hybrid_agent_mixes_model_based_and_model_free_values():
    agent = HybridTwoStepAgent(alpha=0.5, tau=0.5, lam=1.0, w=0.25, p_common=0.7)
    agent.q_mf[:] = [[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]]
    v2 = ds.soft_value(agent.q_mf[1:], 0.5)
    q_mb = np.array([0.7 * v2[0] + 0.3 * v2[1], 0.3 * v2[0] + 0.7 * v2[1]])
    np.testing.assert_allclose(agent.q_values(0), 0.25 * q_mb + 0.75 * np.array([1.0, 0.0]))
    # a stage-2 error reaches the stage-1 model-free value through the trace
    agent.update(0, 1, 0.0, 1, False)
    before = agent.q_mf[0, 1]
    delta2 = 1.0 - agent.q_mf[1, 0]
    agent.update(1, 0, 1.0, 0, True)
    assert agent.q_mf[0, 1] == pytest.approx(before + 0.5 * delta2)
    with pytest.raises(ValueError, match="w"):
        HybridTwoStepAgent(alpha=0.5, tau=0.5, w=1.5)


def test_simulate_two_step_same_seed_same_data_and_errors():
    a = simulate_two_step(3, 40, model="hybrid", seed=5)
    pd.testing.assert_frame_equal(a, simulate_two_step(3, 40, model="hybrid", seed=5))
    assert not a.equals(simulate_two_step(3, 40, model="hybrid", seed=6))
    assert tuple(a.columns) == CANONICAL_COLUMNS and len(a) == 120
    with pytest.raises(ValueError, match="'nope'.*soft-q-lambda"):
        simulate_two_step(2, 10, model="nope")
    with pytest.raises(ValueError, match="'beta'"):
        simulate_two_step(2, 10, params={"beta": 3.0})
    with pytest.raises(ValueError, match="n_subjects"):
        simulate_two_step(-1, 10)
    with pytest.raises(ValueError, match="n_trials"):
        simulate_two_step(2, 0)
    with pytest.raises(ValueError, match="reward_probs has 5 trials but n_trials=10"):
        simulate_two_step(2, 10, reward_probs=np.full((5, 2, 2), 0.5))


@pytest.mark.parametrize("model", ["soft-q-lambda-on-policy", "soft-q-lambda-uncorrected"])
def test_other_trace_variants_run(model):
    data = simulate_two_step(2, 30, model=model, seed=0)
    assert tuple(data.columns) == CANONICAL_COLUMNS and len(data) == 60

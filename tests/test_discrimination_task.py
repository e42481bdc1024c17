"""The two-choice discrimination environment: cues, outcomes, the novel cue, seeds and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import dopasoft as ds
from dopasoft.tasks import DiscriminationTask

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def test_correct_choices_are_rewarded_and_every_trial_ends():
    task = DiscriminationTask(n_trials=20, correct=(1, 0), reward=2.0, error_reward=-0.5, seed=3)
    for _ in range(20):
        cue, info = task.reset()
        assert info["cue"] == cue and cue in (0, 1)
        right = (1, 0)[cue]
        obs, r, term, trunc, info = task.step(right)
        assert (r, term, trunc, obs, info["correct"]) == (2.0, True, False, 2, True)
    cue, _ = task.reset(seed=3)
    _, r, _, _, info = task.step(1 - (1, 0)[cue])
    assert r == -0.5 and not info["correct"]


def test_novel_cue_appears_from_its_trial_only():
    task = DiscriminationTask(n_trials=300, novel_from=150, novel_correct=1, novel_fraction=0.4, seed=0)
    assert task.n_cues == 3 and task.n_states == 4
    assert not np.any(task.cues[:150] == 2)
    assert task.cues[150] == 2  # first heard exactly at novel_from
    share = np.mean(task.cues[150:] == 2)
    assert 0.3 < share < 0.5
    task.reset(seed=0)
    seen = [task.reset()[1]["novel"] for _ in range(200)]
    assert not any(seen[:149]) and seen[149]


def test_same_seed_same_cues_and_reset_seed_redraws():
    a = DiscriminationTask(n_trials=100, seed=7).cues
    b = DiscriminationTask(n_trials=100, seed=7).cues
    c = DiscriminationTask(n_trials=100, seed=8).cues
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    task = DiscriminationTask(n_trials=100, seed=7)
    task.reset(seed=8)
    assert np.array_equal(task.cues, c)


def test_a_soft_q_learner_learns_the_discrimination():
    # any agent runs on it through the one simulation loop; correct choices rise from chance
    task = DiscriminationTask(n_trials=400, seed=1)
    agent = ds.SoftQLambda(task.n_states, task.n_actions, alpha=0.05, tau=0.2, lam=0.0)
    res = ds.simulate(agent, task, seed=11)
    correct = res.steps["correct"].to_numpy(dtype=float)
    assert correct[:30].mean() < 0.8 and correct[-100:].mean() > 0.9
    assert np.array_equal(res.trials["reward"].to_numpy(), correct)  # reward 1 exactly when correct


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_trials": 0}, "n_trials"),
        ({"correct": (0, 2)}, "correct"),
        ({"n_actions": 1}, "n_actions"),
        ({"novel_from": 500}, "novel_from"),
        ({"novel_from": 5, "novel_correct": 3}, "novel_correct"),
        ({"novel_from": 5, "novel_fraction": 0.0}, "novel_fraction"),
        ({"reward": float("nan")}, "reward"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiscriminationTask(**kwargs)


def test_bad_action_and_end_of_session():
    task = DiscriminationTask(n_trials=1, seed=0)
    task.reset()
    with pytest.raises(ValueError, match="action 2 is out of range"):
        task.step(2)
    task.step(0)
    with pytest.raises(ValueError, match="only 1 trials"):
        task.reset()

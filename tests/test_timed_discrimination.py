"""Cue, movement and outcome at separate times: the APE at movement onset, the RPE at the outcome.

Ground truths: the task's timing worked out from its parameters, a plain replay of the learned default
policy of each movement state (an exponentially weighted average per cue), the first rewarded outcome of
a naive agent (r - 0 = r exactly), and the sign rule of the lateralised APE.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dopasoft.analysis import plot_timed_prediction_errors  # noqa: E402
from dopasoft.experiments.discrimination import (  # noqa: E402
    TIMED_TRIAL_COLUMNS,
    timed_discrimination_experiment,
)
from dopasoft.tasks import TimedDiscriminationTask  # noqa: E402

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

N, RATE = 300, 0.05


@pytest.fixture(scope="module")
def result():
    return timed_discrimination_experiment(N, prior_rate=RATE, seed=0)


def test_events_happen_at_their_own_times(result):
    t, task = result.trials, result.task
    assert list(t.columns) == list(TIMED_TRIAL_COLUMNS) and len(t) == N
    np.testing.assert_allclose(t["cue_time"], task.pre_bins * 0.1, atol=1e-12)
    assert task.pre_bins.min() >= 5 and task.pre_bins.max() <= 20 and len(set(task.pre_bins)) > 5
    np.testing.assert_allclose(t["movement_time"] - t["cue_time"], 0.3, atol=1e-12)
    np.testing.assert_allclose(t["outcome_time"] - t["movement_time"], 0.5, atol=1e-12)
    s = result.steps
    per_trial = s.groupby("trial").size().to_numpy()
    # pre-cue bins, 3 bins from cue to movement, 5 to the outcome, 5 after it
    np.testing.assert_array_equal(per_trial, task.pre_bins + 3 + 5 + 5)
    assert (s.loc[s["reward"] != 0, "event"] == "reward").all()
    np.testing.assert_array_equal(s.loc[s["event"] == "reward", "reward"], t["reward"])
    assert (t["reward"] == t["correct"].astype(float)).all()
    at = s["event"] == "movement"
    assert (s.loc[at, "time_from_movement"] == 0).all() and (
        s.loc[s["event"] == "reward", "time_from_outcome"] == 0
    ).all()


def test_ape_is_emitted_only_at_movement_and_is_the_learned_prior(result):
    t, s = result.trials, result.steps
    assert (s.loc[s["event"] != "movement", "action_pe"] == 0).all()  # waiting bins: pi0 = (1, 0)
    prior = np.full((2, 2), 0.5)  # plain oracle: pi0 of each cue's movement state
    expect = []
    for cue, side in zip(t["cue"], t["side"], strict=True):
        a = 0 if side == "left" else 1
        expect.append(1.0 - prior[cue, a])
        prior[cue] = (1 - RATE) * prior[cue] + RATE * np.eye(2)[a]
    np.testing.assert_allclose(t["movement_ape"], expect, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        s.loc[s["event"] == "movement", "action_pe"].to_numpy(), t["movement_ape"].to_numpy()
    )
    assert t["movement_ape"].iloc[:20].mean() > 0.4 and t["movement_ape"].iloc[-50:].mean() < 0.01


def test_lateralised_ape_takes_the_contralateral_component(result):
    t = result.trials
    # left hemisphere: rightward movements are contralateral; +APE for them, -APE for the others
    assert (t["contralateral"] == (t["side"] == "right")).all()
    np.testing.assert_array_equal(t["contra_ape"], np.where(t["contralateral"], 1, -1) * t["movement_ape"])
    assert (result.steps.loc[result.steps["event"] != "movement", "contra_ape"] == 0).all()
    right = timed_discrimination_experiment(N, prior_rate=RATE, seed=0, hemisphere="right")
    assert (right.trials["side"] == t["side"]).all()  # same choices
    np.testing.assert_array_equal(right.trials["contra_ape"], -t["contra_ape"])


def test_reward_rpe_moves_from_outcome_to_cue(result):
    t = result.trials
    first = t.index[t["reward"] > 0][0]
    assert t.loc[first, "reward_rpe"] == 1.0  # nothing predicted yet: r - Q = 1 - 0
    late = t.iloc[-50:]
    assert late["correct"].all() and late["reward_rpe"].abs().max() < 0.02
    assert t["cue_rpe"].iloc[:3].abs().max() == 0.0  # nothing predicted: gamma V(cue) - V(wait) = 0
    assert late["cue_rpe"].mean() > 0.15  # the cue now predicts the reward; the wait before it less so
    np.testing.assert_array_equal(
        result.steps.loc[result.steps["event"] == "reward", "delta"].to_numpy(), t["reward_rpe"].to_numpy()
    )


def test_same_seed_same_result_and_errors(result):
    again = timed_discrimination_experiment(N, prior_rate=RATE, seed=0)
    assert again.trials.equals(result.trials) and again.steps.equals(result.steps)
    with pytest.raises(ValueError, match=r"cue_to_movement must be a whole number of bins of dt = 0.1 s"):
        timed_discrimination_experiment(5, cue_to_movement=0.25)
    with pytest.raises(ValueError, match=r"hemisphere must be one of \['left', 'right'\], got 'top'"):
        timed_discrimination_experiment(5, hemisphere="top")
    with pytest.raises(ValueError, match=r"gamma_per_s must be in \(0, 1\], got 0"):
        timed_discrimination_experiment(5, gamma_per_s=0)
    with pytest.raises(ValueError, match=r"pre_cue must be \(low, high\) with low <= high"):
        TimedDiscriminationTask(5, pre_cue=(1.0, 0.5))


def test_plot_timed_prediction_errors(result):
    fig = plot_timed_prediction_errors(result)
    a, b, c = fig.axes
    assert a.get_xlabel() == "Time from movement onset (s)" and b.get_xlabel() == "Time from outcome (s)"
    assert len(a.get_lines()) == 4 + 1 and len(b.get_lines()) == 2 + 1 and len(c.get_lines()) == 3
    x, y = a.get_lines()[0].get_data()  # contralateral, early: the mean contra_ape at movement onset
    early = result.trials.iloc[:50]
    assert y[np.flatnonzero(x == 0)[0]] == pytest.approx(
        early.loc[early["contralateral"], "contra_ape"].mean()
    )
    with pytest.raises(ValueError, match="result must be a timed_discrimination_experiment result"):
        plot_timed_prediction_errors(result.trials)

"""Model-dopamine analysis: aligned traces, photometry kernel and convolution, per-trial summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dopasoft.analysis import dopamine as dp
from dopasoft.experiments.conditioning import simulate_conditioning

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def _steps() -> pd.DataFrame:
    # two trials of 5 steps, bins 0.25 s; cue entered at step 1, reward at step 3 (trial 0) or 4 (trial 1)
    rows = []
    for trial, reward_step in ((0, 3), (1, 4)):
        for step in range(5):
            event = "cue" if step == 1 else ("reward" if step == reward_step else "")
            rows.append(
                {
                    "trial": trial,
                    "step": step,
                    "time": -0.25 + 0.25 * step,
                    "event": event,
                    "delta": 10 * trial + step,
                }
            )
    return pd.DataFrame(rows)


def test_aligned_traces_by_hand():
    cue = dp.aligned_traces(_steps(), align="cue")
    assert list(cue.columns) == [-0.25, 0.0, 0.25, 0.5, 0.75]
    assert cue.loc[1].tolist() == [10, 11, 12, 13, 14]
    rew = dp.aligned_traces(_steps(), align="reward")
    assert rew.loc[0, 0.0] == 3 and rew.loc[1, 0.0] == 14
    assert rew.loc[0, -0.75] == 0 and rew.loc[1, -0.75] == 11
    assert np.isnan(rew.loc[0, -1.0]) and np.isnan(rew.loc[1, 0.25])  # not covered by the trial
    assert dp.aligned_traces(_steps(), align="cue", trials=[1]).index.tolist() == [1]
    with pytest.raises(ValueError, match="no step has event 'lick'"):
        dp.aligned_traces(_steps(), align="lick")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['value_rpe'\]"):
        dp.aligned_traces(_steps(), "value_rpe")


def test_photometry_kernel_shape():
    t = np.linspace(-1, 5, 60001)
    h = dp.photometry_kernel(t, tau_rise=0.1, tau_decay=0.6)
    assert np.all(h[t < 0] == 0)
    assert h.max() == pytest.approx(1.0, abs=1e-6)
    t_peak = np.log(6) * 0.1 * 0.6 / 0.5
    assert t[np.argmax(h)] == pytest.approx(t_peak, abs=1e-3)
    assert h[-1] < 1e-3
    with pytest.raises(ValueError, match="tau_rise < tau_decay"):
        dp.photometry_kernel(t, tau_rise=1.0, tau_decay=0.5)


def test_convolution_is_a_sum_of_shifted_kernels():
    traces = pd.DataFrame([[0.0, 2.0, 0.0, -1.0], [1.0, 0.0, 0.0, 0.0]], columns=[0.0, 0.25, 0.5, 0.75])
    out = dp.convolve_photometry(traces, dt=0.01, tail=1.0)
    grid = np.asarray(out.columns, dtype=float)
    assert grid[0] == 0.0 and grid[-1] == pytest.approx(1.75)
    expected0 = 2 * dp.photometry_kernel(grid - 0.25) - dp.photometry_kernel(grid - 0.75)
    np.testing.assert_allclose(out.iloc[0].to_numpy(), expected0, atol=1e-12)
    np.testing.assert_allclose(out.iloc[1].to_numpy(), dp.photometry_kernel(grid), atol=1e-12)
    with pytest.raises(ValueError, match="dt must be > 0"):
        dp.convolve_photometry(traces, dt=0)


@pytest.fixture(scope="module")
def partial():
    return simulate_conditioning("partial-reinforcement", seed=0)


def test_probability_scaling(partial):
    table = dp.probability_scaling(partial, last=100)
    assert table["p"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.all(np.diff(table["cue_rpe"]) > 0)  # cue RPE rises with p
    rewarded = table["rpe_rewarded"].dropna().to_numpy()
    assert np.all(np.diff(rewarded) < 0)  # reward RPE falls with p
    omitted = table.set_index("p")["rpe_omitted"].dropna()
    assert np.all(np.diff(omitted.to_numpy()) < 0) and omitted.loc[0.5] < -0.3
    assert np.isnan(table.set_index("p").loc[1.0, "rpe_omitted"])
    assert dp.reward_probability("C+ p=0.5") == 0.5
    assert dp.reward_probability("A-") == 0.0
    assert dp.reward_probability("+") == 1.0


def test_blocking_probes_and_rpe_by_trial_type():
    result = simulate_conditioning("blocking", seed=0)
    probes = dp.rpe_by_trial_type(result, phase="test").set_index("trial_type")
    assert probes.loc["A?", "cue_rpe"] > 0.5
    assert abs(probes.loc["B?", "cue_rpe"]) < 0.05
    late = dp.rpe_by_trial_type(result, last=20).set_index("trial_type")
    assert late.loc["A+", "n"] == 20 and abs(late.loc["A+", "reward_rpe"]) < 0.05
    with pytest.raises(ValueError, match="no trials in phase"):
        dp.rpe_by_trial_type(result, phase="nope")


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['cue_rpe'"):
        dp.trial_table(pd.DataFrame({"trial": [0], "trial_type": ["A+"]}))
    with pytest.raises(ValueError, match=r"\['rewarded'\]"):
        dp.probability_scaling(
            pd.DataFrame({"trial": [0], "trial_type": ["A+"], "cue_rpe": [0.0], "reward_rpe": [0.0]})
        )

"""Trial regressors (dopasoft.analysis.regressors) against hand-computed kernels and sticks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize

from dopasoft.analysis import Regressor, canonical_hrf, trial_regressors

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

# ------------------------------------------------------------------------------------------------
# plain oracles (no package code)


def gcamp_oracle(t: float, rise: float = 0.1, decay: float = 0.6) -> float:
    """Difference of exponentials scaled to unit peak; the peak time solves d/dt = 0 by hand."""
    if t < 0:
        return 0.0
    t_peak = math.log(decay / rise) / (1 / rise - 1 / decay)
    peak = math.exp(-t_peak / decay) - math.exp(-t_peak / rise)
    return (math.exp(-t / decay) - math.exp(-t / rise)) / peak


def spm_double_gamma(t: float) -> float:
    """SPM's canonical HRF before normalisation: t^5 e^-t / 5! - t^15 e^-t / (15! * 6)."""
    if t <= 0:
        return 0.0
    return t**5 * math.exp(-t) / math.factorial(5) - t**15 * math.exp(-t) / (math.factorial(15) * 6)


def spm_peak() -> tuple[float, float]:
    # derivative of the double gamma: e^-t [t^4 (5 - t) / 5! - t^14 (15 - t) / (6 * 15!)] = 0
    def slope(t):
        return t**4 * (5 - t) / math.factorial(5) - t**14 * (15 - t) / (6 * math.factorial(15))

    t_peak = optimize.brentq(slope, 3.0, 6.0, xtol=1e-14)
    return t_peak, spm_double_gamma(t_peak)


def one_trial(onset: float, value: float = 1.0, subject=1) -> pd.DataFrame:
    return pd.DataFrame({"subject": [subject], "trial": [1], "delta": [value], "outcome_onset": [onset]})


RPE = {"rpe": Regressor("outcome_onset", "delta")}


# ------------------------------------------------------------------------------------------------
# kernels


def test_canonical_hrf_peaks_dips_and_integrates_where_spm_says():
    t_peak, height = spm_peak()
    assert 4.99 < t_peak < 5.0  # just before the first gamma's mode (5 s)
    assert canonical_hrf(t_peak) == pytest.approx(1.0, abs=1e-12)
    for t in (0.5, 3.0, t_peak + 0.3, 10.0, 20.0, 30.0):
        assert canonical_hrf(t) == pytest.approx(spm_double_gamma(t) / height, rel=1e-10, abs=1e-14)
    grid = np.linspace(0, 40, 40001)
    values = canonical_hrf(grid)
    assert grid[values.argmax()] == pytest.approx(t_peak, abs=1e-3)
    assert values.max() <= 1.0 + 1e-12
    # undershoot: negative from ~12 s, minimum near 15.75 s
    assert 15.0 < grid[values.argmin()] < 16.5 and values.min() < 0
    # area of the un-normalised kernel is 1 - 1/6
    area, _ = integrate.quad(lambda t: float(canonical_hrf(t)), 0, 80, limit=200)
    assert area * height == pytest.approx(5 / 6, rel=1e-8)
    assert canonical_hrf(-1.0) == 0.0 and canonical_hrf(0.0) == 0.0


def test_single_stick_is_the_gcamp_kernel_shifted_and_scaled():
    onset, value, rate = 1.234, 0.7, 20.0
    reg = trial_regressors(one_trial(onset, value), regressors=RPE, rate_hz=rate, tail=5.0)
    expected = [value * gcamp_oracle(t - onset) for t in reg["time"]]
    np.testing.assert_allclose(reg["rpe"], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(reg["time"], np.arange(len(reg)) / rate)
    assert reg["time"].iloc[-1] == pytest.approx(onset + 5.0, abs=1 / rate)
    assert reg["rpe"].max() <= value  # unit peak: never above the signal


def test_single_stick_with_other_gcamp_constants_and_hrf():
    reg = trial_regressors(
        one_trial(0.5, -2.0), regressors=RPE, rate_hz=10, tau_rise=0.2, tau_decay=1.5, tail=3.0
    )
    expected = [-2.0 * gcamp_oracle(t - 0.5, 0.2, 1.5) for t in reg["time"]]
    np.testing.assert_allclose(reg["rpe"], expected, rtol=1e-12, atol=1e-15)

    _, height = spm_peak()
    reg = trial_regressors(one_trial(2.0, 3.0), regressors=RPE, rate_hz=2, kernel="hrf", tail=40.0)
    lags = reg["time"].to_numpy() - 2.0
    expected = [3.0 * spm_double_gamma(lag) / height if lag <= 32 else 0.0 for lag in lags]
    np.testing.assert_allclose(reg["rpe"], expected, rtol=1e-10, atol=1e-14)
    assert (reg.loc[lags > 32, "rpe"] == 0).all()  # SPM's 32 s kernel length


def test_sticks_add_up_and_trial_in_progress():
    signals = pd.DataFrame(
        {
            "subject": ["a"] * 3,
            "trial": [1, 2, 3],
            "delta": [1.0, -0.5, 0.25],
            "outcome_onset": [0.3, 0.75, 2.0],
            "choice_onset": [0.1, 0.6, 1.05],
        }
    )
    regs = {"rpe": Regressor("outcome_onset", "delta"), "choice": Regressor("choice_onset")}
    reg = trial_regressors(signals, regressors=regs, rate_hz=20, tail=2.0)
    t = reg["time"].to_numpy()
    want = [
        sum(x * gcamp_oracle(tt - o) for x, o in zip([1.0, -0.5, 0.25], [0.3, 0.75, 2.0], strict=True))
        for tt in t
    ]
    np.testing.assert_allclose(reg["rpe"], want, rtol=1e-12, atol=1e-15)
    want = [sum(gcamp_oracle(tt - o) for o in [0.1, 0.6, 1.05]) for tt in t]
    np.testing.assert_allclose(reg["choice"], want, rtol=1e-12, atol=1e-15)
    # trial in progress: starts at the earliest onset (the choice) of each trial
    expected_trial = [pd.NA if tt < 0.1 else (1 if tt < 0.6 else (2 if tt < 1.05 else 3)) for tt in t]
    assert reg["trial"].tolist() == expected_trial
    assert reg["subject"].eq("a").all()
    assert len(reg) == round((2.0 + 2.0) * 20) + 1


def test_area_is_the_same_at_every_sampling_rate():
    signals = pd.DataFrame(
        {"subject": 7, "trial": [1, 2, 3], "delta": [1.0, 0.4, -0.3], "outcome_onset": [0.513, 2.271, 4.9]}
    )
    rise, decay = 0.1, 0.6
    t_peak = math.log(decay / rise) / (1 / rise - 1 / decay)
    kernel_area = (decay - rise) / (math.exp(-t_peak / decay) - math.exp(-t_peak / rise))
    want = (1.0 + 0.4 - 0.3) * kernel_area
    areas = {}
    for rate in (5, 10, 20, 50, 200, 1000):
        reg = trial_regressors(signals, regressors=RPE, rate_hz=rate)
        areas[rate] = reg["rpe"].sum() / rate
    for rate, area in areas.items():
        # a sum of samples of a kernel with a kink at 0: error O(1/rate^2) (measured 1.8e-3 at 20 Hz)
        assert area == pytest.approx(want, rel=2 / rate**2 + 1e-5), rate
    _, height = spm_peak()
    for rate in (1, 2, 10):
        reg = trial_regressors(signals, regressors=RPE, rate_hz=rate, kernel="hrf")
        # area of the 32 s kernel, computed on the oracle
        hrf_area = integrate.quad(spm_double_gamma, 0, 32, limit=200)[0] / height
        assert reg["rpe"].sum() / rate == pytest.approx(1.1 * hrf_area, rel=2e-3), rate


def test_events_table_stages_and_subjects():
    signals = pd.DataFrame(
        {
            "subject": [1, 1, 1, 1, 2, 2],
            "trial": [1, 1, 2, 2, 1, 1],
            "stage": [1, 2, 1, 2, 1, 2],
            "delta": [0.1, 1.0, 0.2, -0.5, 0.3, 0.8],
        }
    )
    events = pd.DataFrame(
        {
            "subject": [1, 1, 2],
            "trial": [1, 2, 1],
            "choice_onset": [0.2, 2.0, 0.4],
            "outcome_onset": [1.0, 3.0, 1.5],
        }
    )
    regs = {
        "rpe2": Regressor("outcome_onset", "delta", stage=2),
        "rpe1": Regressor("choice_onset", "delta", stage=1),
    }
    reg = trial_regressors(signals, events, regressors=regs, rate_hz=10, tail=1.0)
    s1 = reg[reg["subject"] == 1]
    s2 = reg[reg["subject"] == 2]
    assert len(s1) == 41 and len(s2) == 26  # each subject's own grid: to its last onset + tail
    want = [1.0 * gcamp_oracle(t - 1.0) - 0.5 * gcamp_oracle(t - 3.0) for t in s1["time"]]
    np.testing.assert_allclose(s1["rpe2"], want, rtol=1e-12, atol=1e-15)
    want = [0.1 * gcamp_oracle(t - 0.2) + 0.2 * gcamp_oracle(t - 2.0) for t in s1["time"]]
    np.testing.assert_allclose(s1["rpe1"], want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s2["rpe2"], [0.8 * gcamp_oracle(t - 1.5) for t in s2["time"]], atol=1e-15)
    # an event without a model step (trial 2 of subject 1 has no stage-2 row here) gets no stick
    reg = trial_regressors(signals.drop(index=3), events, regressors=regs, rate_hz=10, tail=1.0)
    s1 = reg[reg["subject"] == 1]
    np.testing.assert_allclose(s1["rpe2"], [gcamp_oracle(t - 1.0) for t in s1["time"]], atol=1e-15)


def test_missing_onsets_skipped_on_request():
    signals = pd.DataFrame(
        {"subject": 1, "trial": [1, 2, 3], "delta": [1.0, 0.5, -1.0], "outcome_onset": [0.5, np.nan, 2.5]}
    )
    with pytest.raises(
        ValueError, match=r"'outcome_onset', subject 1, row 1: missing onset .*missing_onsets='skip'"
    ):
        trial_regressors(signals, regressors=RPE, rate_hz=10)
    reg = trial_regressors(signals, regressors=RPE, rate_hz=10, tail=1.0, missing_onsets="skip")
    want = [gcamp_oracle(t - 0.5) - gcamp_oracle(t - 2.5) for t in reg["time"]]
    np.testing.assert_allclose(reg["rpe"], want, rtol=1e-12, atol=1e-15)
    assert 2 not in set(reg["trial"].dropna())  # a trial without any onset is never in progress
    with pytest.raises(ValueError, match="missing_onsets must be 'error' or 'skip'"):
        trial_regressors(signals, regressors=RPE, rate_hz=10, missing_onsets="drop")


def test_identifiers_of_different_types_do_not_join():
    signals = pd.DataFrame({"subject": [1, 1], "trial": [1, 2], "delta": [1.0, 0.5]})
    events = pd.DataFrame({"subject": ["1", "1"], "trial": [1, 2], "outcome_onset": [0.5, 1.5]})
    with pytest.raises(
        ValueError, match="regressor 'rpe': (cannot join events|no subject/trial of the events)"
    ):
        trial_regressors(signals, events, regressors=RPE, rate_hz=10)


def test_zscore_per_subject():
    signals = pd.DataFrame(
        {
            "subject": [1, 1, 2, 2],
            "trial": [1, 2, 1, 2],
            "delta": [1.0, -1.0, 5.0, 4.0],
            "outcome_onset": [0, 2, 1, 3],
        }
    )
    raw = trial_regressors(signals, regressors=RPE, rate_hz=10)
    z = trial_regressors(signals, regressors=RPE, rate_hz=10, zscore=True)
    for subj in (1, 2):
        r = raw.loc[raw["subject"] == subj, "rpe"].to_numpy()
        np.testing.assert_allclose(z.loc[z["subject"] == subj, "rpe"], (r - r.mean()) / r.std(), atol=1e-12)
    const = signals.assign(delta=[0.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"regressor 'rpe', subject 1: constant"):
        trial_regressors(const, regressors=RPE, rate_hz=10, zscore=True)


# ------------------------------------------------------------------------------------------------
# bad input: one clear message naming column, subject, row or option


def _signals():
    return pd.DataFrame(
        {
            "subject": [1, 1, 1, 2],
            "trial": [1, 2, 3, 1],
            "delta": [0.5, 0.1, -0.2, 0.3],
            "outcome_onset": [1.0, 2.0, 3.0, 1.0],
        },
        index=[10, 11, 12, 13],
    )


@pytest.mark.parametrize("rate", [0, -5.0, float("nan"), float("inf"), "20", True, None])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="rate_hz"):
        trial_regressors(_signals(), regressors=RPE, rate_hz=rate)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            lambda s: s.assign(outcome_onset=[1.0, np.nan, 3.0, 1.0]),
            r"'outcome_onset', subject 1, row 11: missing onset",
        ),
        (
            lambda s: s.assign(outcome_onset=[1.0, 2.0, 2.0, 1.0]),
            r"'outcome_onset', subject 1, row 12: onset 2.0 s of trial 3 is not after",
        ),
        (lambda s: s.assign(outcome_onset=[1.0, 3.0, 2.0, 1.0]), r"subject 1, row 12: .*row 11"),
        (
            lambda s: s.assign(outcome_onset=[1.0, 2.0, 3.0, -1.0]),
            r"'outcome_onset', subject 2, row 13: onset -1.0 s",
        ),
        (
            lambda s: s.assign(outcome_onset=["1", "2", "x", "1"]),
            r"'outcome_onset', subject 1, row 12: onset 'x'",
        ),
        (lambda s: s.drop(columns="outcome_onset"), r"no onset column 'outcome_onset'"),
        (lambda s: s.drop(columns="delta"), r"no column 'delta'"),
        (lambda s: s.drop(columns="trial"), r"lacks column\(s\) \['trial'\]"),
        (lambda s: s.assign(delta=[0.5, np.nan, 0.1, 0.3]), r"'delta', subject 1, row 11: missing"),
        (lambda s: s.assign(trial=[1, 1, 3, 1]), r"several rows for one trial \(subject 1, row 11\)"),
    ],
)
def test_bad_signals(change, pattern):
    with pytest.raises(ValueError, match=pattern):
        trial_regressors(change(_signals()), regressors=RPE, rate_hz=10)


def test_bad_events_and_options():
    signals = _signals().drop(columns="outcome_onset")
    events = pd.DataFrame({"subject": [1, 1], "trial": [1, 2], "outcome_onset": [1.0, np.nan]}, index=[1, 2])
    with pytest.raises(ValueError, match=r"events column 'outcome_onset', subject 1, row 2: missing onset"):
        trial_regressors(signals, events, regressors=RPE, rate_hz=10)
    events = pd.DataFrame({"subject": [5, 5], "trial": [1, 2], "outcome_onset": [1.0, 2.0]})
    with pytest.raises(ValueError, match="no subject/trial of the events table is in the signals"):
        trial_regressors(signals, events, regressors=RPE, rate_hz=10)
    with pytest.raises(ValueError, match="no rows of stage 2"):
        trial_regressors(
            _signals().assign(stage=1), regressors={"r": Regressor("outcome_onset", "delta", 2)}, rate_hz=10
        )
    with pytest.raises(ValueError, match="no 'stage' column"):
        trial_regressors(_signals(), regressors={"r": Regressor("outcome_onset", "delta", 2)}, rate_hz=10)
    with pytest.raises(ValueError, match="tau_rise and tau_decay belong to kernel='gcamp'"):
        trial_regressors(_signals(), regressors=RPE, rate_hz=10, kernel="hrf", tau_decay=1.0)
    with pytest.raises(ValueError, match="need 0 < tau_rise < tau_decay"):
        trial_regressors(_signals(), regressors=RPE, rate_hz=10, tau_rise=1.0, tau_decay=0.5)
    with pytest.raises(ValueError, match="kernel must be"):
        trial_regressors(_signals(), regressors=RPE, rate_hz=10, kernel="boxcar")
    with pytest.raises(ValueError, match="needs kernel_duration"):
        trial_regressors(_signals(), regressors=RPE, rate_hz=10, kernel=lambda t: np.exp(-t))
    with pytest.raises(ValueError, match="regressors must be a non-empty mapping"):
        trial_regressors(_signals(), regressors={}, rate_hz=10)
    with pytest.raises(ValueError, match="regressor name 'time' clashes"):
        trial_regressors(_signals(), regressors={"time": Regressor("outcome_onset")}, rate_hz=10)
    with pytest.raises(ValueError, match="regressor 'rpe' must be a dopasoft.analysis.Regressor"):
        trial_regressors(_signals(), regressors={"rpe": ("outcome_onset", "delta")}, rate_hz=10)


def test_kernel_function():
    reg = trial_regressors(
        one_trial(0.25, 2.0),
        regressors=RPE,
        rate_hz=4,
        kernel=lambda t: np.exp(-t),
        kernel_duration=1.0,
        tail=2.0,
    )
    lags = reg["time"].to_numpy() - 0.25
    np.testing.assert_allclose(reg["rpe"], np.where((lags >= 0) & (lags <= 1.0), 2 * np.exp(-lags), 0.0))

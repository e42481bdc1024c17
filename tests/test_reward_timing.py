"""Reward-timing uncertainty: the variable-delay protocol, belief-state and semi-Markov TD, CSC TD.

Ground truth: the belief in closed form (written here from the delay distribution, sharing no code with
the package), a plain TD(0) over those beliefs, the semi-Markov fixed point solved by hand, and the
Starkweather et al. (2017) signs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dopasoft.analysis.dopamine import delay_slope, rpe_by_delay
from dopasoft.cli import main
from dopasoft.experiments.conditioning import simulate_conditioning
from dopasoft.tasks.conditioning import (
    STARKWEATHER_DELAYS,
    BeliefState,
    ConditioningTask,
    starkweather_delay_probs,
    variable_delay_session,
)


def closed_form_belief(delay_bins, probs, p_reward, onset, reward_bin, n_bins):
    """b(ISI_j) = S(j) / (S(j) + (1 - p)(1 - S(j))) after j unrewarded bins; ITI before the cue and
    after a reward."""
    k_max = max(delay_bins)
    pmf = np.zeros(k_max + 1)
    for d, q in zip(delay_bins, probs, strict=True):
        pmf[d] += q
    x = np.zeros((n_bins, k_max + 1))
    for t in range(n_bins):
        j = t - onset
        if j < 0 or (reward_bin is not None and t >= reward_bin):
            x[t, k_max] = 1.0
            continue
        survival = pmf[j + 1 :].sum()  # P(D > j)
        denominator = survival + (1.0 - p_reward) * (1.0 - survival)
        if j >= k_max or denominator <= 0.0:
            x[t, k_max] = 1.0
            continue
        x[t, j] = survival / denominator
        x[t, k_max] = 1.0 - x[t, j]
    return x


@pytest.mark.parametrize("p_reward", [1.0, 0.9, 0.5])
def test_belief_matches_its_closed_form(p_reward):
    probs = starkweather_delay_probs()
    rep = BeliefState(STARKWEATHER_DELAYS, tuple(probs), p_reward=p_reward)
    bins = [int(round(d / 0.2)) for d in STARKWEATHER_DELAYS]
    for reward_bin in (None, 5 + 7, 5 + 14):
        got = rep.trial_features(5, reward_bin, 24, 0.2)
        want = closed_form_belief(bins, probs, p_reward, 5, reward_bin, 24)
        np.testing.assert_allclose(got, want, atol=1e-12)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)


def test_belief_state_td_is_plain_td0_over_the_beliefs():
    """The linear learner on belief features is w += alpha delta b, delta = r + gamma w.b' - w.b."""
    alpha, gamma_per_s, p = 0.3, 0.9, 0.9
    result = simulate_conditioning(
        "variable-delay",
        p_reward=p,
        representation="belief-state",
        n_trials=40,
        seed=3,
        alpha=alpha,
        gamma_per_s=gamma_per_s,
    )
    task = result.task
    gamma = gamma_per_s**task.dt
    probs = starkweather_delay_probs()
    bins = [int(round(d / task.dt)) for d in STARKWEATHER_DELAYS]
    w = np.zeros(max(bins) + 1)
    expected = []
    for _, row in result.trials.iterrows():
        onset = int(round(1.0 / task.dt))
        reward_bin = onset + int(round(row["reward_time"] / task.dt))
        x = closed_form_belief(bins, probs, p, onset, reward_bin if row["rewarded"] else None, task.n_bins)
        for t in range(task.n_bins):
            r = 1.0 if (row["rewarded"] and t + 1 == reward_bin) else 0.0
            v_next = 0.0 if t + 1 == task.n_bins else gamma * w @ x[t + 1]
            delta = r + v_next - w @ x[t]
            w = w + alpha * delta * x[t]
            expected.append(delta)
    np.testing.assert_allclose(result.steps["delta"], expected, atol=1e-10)


@pytest.fixture(scope="module")
def starkweather():
    """The two tasks with each model, trained to the asymptote (alpha 0.2, 800 trials)."""
    return {
        (rep, p): simulate_conditioning(
            "variable-delay", p_reward=p, representation=rep, n_trials=800, alpha=0.2, seed=0
        )
        for rep in ("belief-state", "csc", "semi-markov")
        for p in (1.0, 0.9)
    }


def test_belief_state_reproduces_starkweather(starkweather):
    """Reward RPEs fall with delay when every trial is rewarded, rise when 10 % are omitted."""
    full = float(delay_slope(starkweather["belief-state", 1.0]).iloc[0])
    partial = float(delay_slope(starkweather["belief-state", 0.9]).iloc[0])
    assert full < -0.02
    assert partial > 0.15
    table = rpe_by_delay(starkweather["belief-state", 0.9]).set_index("reward_time")["reward_rpe"]
    assert table.loc[2.8] > 2 * table.loc[1.2]  # a late reward is the surprising one


def test_csc_td_keeps_large_flat_reward_rpes(starkweather):
    """CSC TD cannot tell that the reward has not come yet: its prediction at each delay is the
    unconditional chance of a reward there, so reward RPEs stay near 1 at every delay, in both tasks,
    with no reversal of the slope."""
    for p in (1.0, 0.9):
        table = rpe_by_delay(starkweather["csc", p])
        assert table["reward_rpe"].min() > 0.7
        assert abs(float(delay_slope(starkweather["csc", p]).iloc[0])) < 0.05
    diff = delay_slope(starkweather["csc", 0.9]).iloc[0] - delay_slope(starkweather["csc", 1.0]).iloc[0]
    assert abs(diff) < 0.05


def test_semi_markov_fixed_point_and_falling_rpes(starkweather):
    """Semi-Markov TD: V(ISI) = E[g^D](1 + V(ITI)), V(ITI) = g^c V(ISI) / 2 (cue and end events
    equally often), so the reward RPE at delay D is g^D (1 + V(ITI)) - V(ISI): falling with D in both tasks."""
    g = 0.98**4
    probs = starkweather_delay_probs()
    delays = np.asarray(STARKWEATHER_DELAYS)
    m = float(probs @ g**delays)
    v_isi = m / (1.0 - m * g**1.0 / 2.0)
    v_iti = g**1.0 * v_isi / 2.0
    table = rpe_by_delay(starkweather["semi-markov", 1.0]).set_index("reward_time")["reward_rpe"]
    np.testing.assert_allclose(table.to_numpy(), g ** table.index.to_numpy() * (1 + v_iti) - v_isi, atol=0.03)
    for p in (1.0, 0.9):
        assert float(delay_slope(starkweather["semi-markov", p]).iloc[0]) < -0.05
    # omitted rewards are not observed: no reward-time signal on omission trials
    t = starkweather["semi-markov", 0.9].trials
    assert t.loc[~t["rewarded"].astype(bool), "reward_rpe"].isna().all()
    assert (t.loc[~t["rewarded"].astype(bool), "end_rpe"] < 0).all()


def test_variable_delay_session_and_probes():
    s = variable_delay_session(0.9, n_trials=2000, probe_delays=(0.6, 3.4), n_probes=5, seed=1)
    training = np.asarray(s.phases) == "training"
    assert set(np.round(s.reward_time[training], 1)) <= set(STARKWEATHER_DELAYS)
    assert abs(s.rewarded[training].mean() - 0.9) < 0.02
    counts = pd.Series(s.reward_time[training]).round(1).value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(counts.to_numpy(), starkweather_delay_probs(), atol=0.025)
    assert sorted(s.reward_time[~training].tolist()) == [0.6] * 5 + [3.4] * 5
    assert s.rewarded[~training].all()
    again = variable_delay_session(0.9, n_trials=2000, probe_delays=(0.6, 3.4), n_probes=5, seed=1)
    np.testing.assert_array_equal(again.reward_time, s.reward_time)
    # an early probe reward, which the model held impossible, sets the belief to the ITI
    rep = BeliefState(p_reward=0.9)
    x = rep.trial_features(5, 5 + 3, 24, 0.2)
    assert x[8, -1] == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: simulate_conditioning("acquisition", p_reward=0.9), "p_reward is an option"),
        (lambda: simulate_conditioning("blocking", representation="belief-state"), "variable-delay"),
        (lambda: simulate_conditioning("variable-delay", p_reward=0.0, n_trials=5), "p_reward must be"),
        (lambda: simulate_conditioning("variable-delay", n_trials=0), "n_trials must be"),
        (lambda: ConditioningTask("blocking", representation=BeliefState()), "one cue"),
        (lambda: ConditioningTask("variable-delay"), "variable_delay_session"),
        (lambda: BeliefState(delays=(1.0, -1.0)), "delays must be positive"),
        (lambda: BeliefState(delays=(1.0, 2.0), delay_probs=(0.5, 0.6)), "summing to 1"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_command_line_variable_delay(tmp_path):
    out = tmp_path / "sw.csv"
    code = main(
        [
            "simulate",
            "conditioning",
            "--protocol",
            "variable-delay",
            "--p-reward",
            "0.9",
            "--representation",
            "belief-state",
            "--n-trials",
            "60",
            "--seed",
            "4",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    got = pd.read_csv(out)
    want = simulate_conditioning(
        "variable-delay", p_reward=0.9, representation="belief-state", n_trials=60, seed=4
    ).trials
    np.testing.assert_allclose(got["reward_rpe"], want["reward_rpe"], rtol=1e-12)
    np.testing.assert_allclose(got["reward_time"], want["reward_time"])
    bad = ["simulate", "conditioning", "--protocol", "blocking", "--p-reward", "0.9", "--out", str(out)]
    assert main(bad) == 2


def test_early_and_late_probe_rewards():
    """After 2.8 s without reward the belief-state model is sure the trial is over (p = 1: the reward
    would have come; p = 0.9: it was omitted), so a reward at 3.4 s is a full surprise; a reward at
    0.6 s comes while the value already anticipates a reward soon, so it is a smaller one."""
    for p in (1.0, 0.9):
        run = simulate_conditioning(
            "variable-delay",
            p_reward=p,
            representation="belief-state",
            n_trials=400,
            alpha=0.2,
            probe_delays=(0.6, 3.4),
            seed=5,
        )
        probes = run.trials[run.trials["phase"] == "probes"]
        assert len(probes) == 20 and probes["rewarded"].all()
        by_time = probes.groupby("reward_time")["reward_rpe"].mean()
        assert by_time.loc[3.4] > 0.9
        assert by_time.loc[0.6] < 0.5 * by_time.loc[3.4]
    out_args = [
        "simulate",
        "conditioning",
        "--protocol",
        "acquisition",
        "--probe-delays",
        "0.6",
        "--out",
        "x.csv",
    ]
    assert main(out_args) == 2


def test_figures_command_draws_reward_timing_from_files(tmp_path):
    runs = {}
    for name, p in (("sw100", 1.0), ("sw90", 0.9)):
        runs[name] = simulate_conditioning(
            "variable-delay", p_reward=p, representation="belief-state", n_trials=80, seed=6
        ).trials
        runs[name].to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "figs"
    args = [
        "figures",
        "--conditioning",
        str(tmp_path / "sw100.csv"),
        "--conditioning",
        str(tmp_path / "sw90.csv"),
    ]
    assert main([*args, "--out", str(out), "--format", "png", "--quiet"]) == 0
    assert (out / "reward_timing.png").exists()
    table = pd.read_csv(out / "reward_rpe_by_delay.csv")
    want = rpe_by_delay(runs["sw90"])
    np.testing.assert_allclose(
        table.loc[table["file"] == "sw90", "reward_rpe"], want["reward_rpe"], rtol=1e-9
    )

"""Classical conditioning: trial-type parsing, protocols, representations, timing and textbook effects."""

from __future__ import annotations

import numpy as np
import pytest

import dopasoft as ds
from dopasoft.experiments.conditioning import (
    CONDITIONING_DEFAULTS,
    conditioning_agent,
    simulate_conditioning,
)
from dopasoft.simulation import simulate
from dopasoft.tasks.conditioning import (
    PROTOCOLS,
    CompleteSerialCompound,
    ConditioningTask,
    InstrumentalConditioningTask,
    Microstimuli,
    Presence,
    cue_value,
    get_protocol,
    make_protocol,
    make_representation,
    parse_trial_type,
    protocol_names,
)

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

GAMMA = CONDITIONING_DEFAULTS["gamma_per_s"] ** 0.25  # per 0.25-s bin (the default dt)


@pytest.fixture(scope="module")
def runs():
    """Every shipped protocol simulated once with the default parameters (CSC, seed 0)."""
    return {name: simulate_conditioning(name, seed=0) for name in protocol_names()}


def by_type(result, phase, trial_type):
    t = result.trials
    return t[(t["phase"] == phase) & (t["trial_type"] == trial_type)]


# -- parsing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "groups", "outcome", "learn"),
    [
        ("A+", (("A",),), "+", True),
        ("AB+", (("A", "B"),), "+", True),
        ("A-", (("A",),), "-", True),
        ("B?", (("B",),), "?", False),
        ("B>A-", (("B",), ("A",)), "-", True),
        ("+", (), "+", True),
    ],
)
def test_parse_trial_type(spec, groups, outcome, learn):
    tt = parse_trial_type(spec)
    assert tt.groups == groups
    assert tt.outcome == outcome
    assert tt.learn is learn
    assert tt.reward == 1.0 and tt.reward_prob == 1.0


def test_parse_options():
    tt = parse_trial_type("C+ p=0.25 r=2")
    assert (tt.reward_prob, tt.reward, tt.cues) == (0.25, 2.0, ("C",))


@pytest.mark.parametrize(
    "spec", ["A", "a+", "AA+", "A+ p=1.5", "A- p=0.5", "A+ q=1", "?", "A>+", "A+ p=x", "", 3]
)
def test_parse_trial_type_rejects(spec):
    with pytest.raises(ValueError, match="trial type"):
        parse_trial_type(spec)


def test_protocol_library_and_errors():
    assert set(protocol_names()) == {
        "acquisition",
        "extinction",
        "blocking",
        "overshadowing",
        "overexpectation",
        "conditioned-inhibition",
        "second-order-conditioning",
        "partial-reinforcement",
        "omission",
        "unexpected-reward",
    }
    assert set(PROTOCOLS) == set(protocol_names())
    assert get_protocol("extinction").phases[-1].trials[0][0].name == "A-"
    blocking = get_protocol("blocking")
    assert [p.name for p in blocking.phases] == ["pretraining", "compound", "test"]
    assert {tt.name for tt, _ in blocking.phases[2].trials} == {"A?", "B?"}
    with pytest.raises(ValueError, match="'nope'.*acquisition, extinction"):
        get_protocol("nope")
    with pytest.raises(ValueError, match="'A\\+'"):
        make_protocol("x", [("p", {"A+": -1})])
    with pytest.raises(ValueError, match="'AQ'"):
        make_protocol("x", [("p", {"AQ": 3})])
    with pytest.raises(ValueError, match="no trials"):
        make_protocol("x", [("p", {"A+": 0})])


def test_phase_order_is_seeded():
    proto = make_protocol("x", [("p", {"A+": 20, "B-": 20})])
    a = proto.schedule(np.random.default_rng(3))
    b = proto.schedule(np.random.default_rng(3))
    c = proto.schedule(np.random.default_rng(4))
    assert a == b and a != c
    assert sorted(tt.name for _, tt in a) == ["A+"] * 20 + ["B-"] * 20


# -- representations ------------------------------------------------------------------------------------
def test_csc_and_presence_features():
    x = CompleteSerialCompound().cue_features(3, 7, 10)
    assert x.shape == (10, 10)
    assert np.all(x[:3] == 0)
    np.testing.assert_array_equal(np.argmax(x[3:], axis=1), np.arange(7))
    assert np.all(x[3:].sum(axis=1) == 1)
    p = Presence().cue_features(3, 7, 10)[:, 0]
    np.testing.assert_array_equal(p, [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])


def test_microstimuli_match_ludvig_equations():
    ms = Microstimuli(n_micro=5, sigma=0.1, decay_per_s=0.9**4, presence=True)
    x = ms.cue_features(2, 6, 12, dt=0.25)  # 0.9 per bin
    assert x.shape == (12, 6)
    assert np.all(x[:2] == 0)
    k = np.arange(10)
    y = 0.9**k
    i = 3  # centre 3/5
    expected = y * np.exp(-((y - i / 5) ** 2) / (2 * 0.1**2)) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(x[2:, i - 1], expected)
    # the first microstimulus (centre 1/m) peaks latest, the last (centre 1) at onset
    assert np.argmax(x[:, 4]) == 2 and np.argmax(x[:, 0]) > np.argmax(x[:, 2]) > 2
    np.testing.assert_array_equal(x[:, 5], [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="decay_per_s must be in"):
        Microstimuli(decay_per_s=1.5)
    with pytest.raises(ValueError, match=r"per bin.*decay=0\.9 at 0\.25 s is decay_per_s=0\.6561"):
        Microstimuli(decay=0.9)
    # the trace is a function of seconds: the same features at 1 s after onset for any bin width
    ms = Microstimuli()
    np.testing.assert_allclose(ms.cue_features(0, 4, 8, dt=0.25)[4], ms.cue_features(0, 10, 20, dt=0.1)[10])
    with pytest.raises(ValueError, match="'fourier'.*csc"):
        make_representation("fourier")


# -- the task --------------------------------------------------------------------------------------------
def test_trial_timing_and_events():
    task = ConditioningTask("acquisition", dt=0.5, cue_onset=1.0, isi=2.0, post_reward=1.0)
    assert (task.onset_bin, task.isi_bins, task.n_bins) == (2, 4, 9)
    obs, info = task.reset(seed=0)
    assert info["trial_type"] == "A+" and info["learn"] and info["rewarded"]
    assert np.all(obs == 0)
    events, rewards, times = [], [], []
    done = False
    while not done:
        obs, r, done, truncated, step_info = task.step(0)
        events.append(step_info["event"])
        rewards.append(r)
        times.append(step_info["time"])
    assert len(events) == task.n_bins
    assert events.index("cue") == task.onset_bin - 1
    assert events.index("reward") == task.onset_bin + task.isi_bins - 1
    assert times[events.index("cue")] == 0.0 and times[events.index("reward")] == 2.0
    assert rewards[events.index("reward")] == 1.0 and sum(rewards) == 1.0
    assert np.all(obs == 0)  # terminal observation
    with pytest.raises(RuntimeError):
        task.step(0)


def test_serial_compound_timing():
    task = ConditioningTask("second-order-conditioning")
    timing = task.timings["B>A-"]
    assert timing.cues["B"] == (task.onset_bin, task.onset_bin + task.gap_bins)
    assert timing.cues["A"][0] == task.onset_bin + task.gap_bins
    assert timing.reward_bin == task.onset_bin + task.gap_bins + task.isi_bins


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cue_onset": 0.0}, "cue_onset"),
        ({"isi": 0.1}, "isi"),
        ({"dt": -1.0}, "dt"),
        ({"representation": "nope"}, "representation"),
        ({"protocol": "nope"}, "valid protocols"),
    ],
)
def test_task_rejects_bad_settings(kwargs, match):
    kwargs = {"protocol": "acquisition", **kwargs}
    with pytest.raises(ValueError, match=match):
        ConditioningTask(kwargs.pop("protocol"), **kwargs)


def test_session_ends_after_the_protocol():
    task = ConditioningTask(make_protocol("x", [("p", {"A+": 2})]))
    task.reset(seed=1)
    task.reset()
    with pytest.raises(ValueError, match="only 2 trials"):
        task.reset()
    task.reset(seed=1)  # a new session


def test_probe_trials_do_not_learn():
    task = ConditioningTask(make_protocol("probe", [("test", {"A?": 3, "B?": 3})]))
    w0 = np.random.default_rng(0).normal(size=(task.n_features, 1))
    agent = ds.SoftQLambda(
        task.n_features, 1, alpha=0.5, tau=1.0, lam=0.9, gamma=GAMMA, linear=True, q_init=w0
    )
    result = simulate(agent, task, seed=0)
    np.testing.assert_array_equal(agent.q, w0)
    assert not result.steps["learn"].any()
    # the cue RPE of a probe is gamma V(onset) - V(pre-cue state = 0)
    for cue in "AB":
        rpe = result.trials.loc[result.trials["trial_type"] == f"{cue}?", "cue_rpe"]
        np.testing.assert_allclose(rpe, GAMMA * cue_value(agent, task, cue))


def test_uncued_reward_and_partial_reward_draws():
    proto = make_protocol("x", [("p", {"+": 5, "A+ p=0.5": 400})])
    result = simulate(conditioning_agent(task := ConditioningTask(proto)), task, seed=2)
    t = result.trials
    assert np.all(t.loc[t["trial_type"] == "+", "reward"] == 1.0)
    frac = t.loc[t["trial_type"] == "A+ p=0.5", "rewarded"].mean()
    assert 0.43 < frac < 0.57
    assert (t["reward"] == t["rewarded"].astype(float)).all()


# -- textbook phenomena (default parameters, CSC) ----------------------------------------------------------
def test_acquisition_moves_the_rpe_from_reward_to_cue(runs):
    t = runs["acquisition"].trials
    first, last = t.iloc[:5], t.iloc[-20:]
    assert first["reward_rpe"].mean() > 0.8 and last["reward_rpe"].abs().max() < 0.05
    assert first["cue_rpe"].mean() < 0.1 and last["cue_rpe"].mean() > 0.8
    # monotone trend: reward RPE shrinks, cue RPE grows
    assert np.corrcoef(t["trial"], t["reward_rpe"])[0, 1] < -0.3
    assert np.corrcoef(t["trial"], t["cue_rpe"])[0, 1] > 0.3


def test_extinction_dip_at_omitted_reward(runs):
    ext = by_type(runs["extinction"], "extinction", "A-")
    assert ext["reward_rpe"].iloc[0] < -0.8
    assert ext["reward_rpe"].iloc[-20:].abs().max() < 0.05
    assert ext["cue_rpe"].iloc[-20:].mean() < 0.1 < 0.8 < ext["cue_rpe"].iloc[0]


def test_blocking(runs):
    result = runs["blocking"]
    a = by_type(result, "test", "A?")["cue_rpe"].mean()
    b = by_type(result, "test", "B?")["cue_rpe"].mean()
    assert a > 0.7 and b < 0.1 * a
    v_a, v_b = (cue_value(result.agent, result.task, c) for c in "AB")
    assert v_b < 0.1 * v_a


def test_overshadowing(runs):
    result = runs["overshadowing"]
    a, b, c = (cue_value(result.agent, result.task, cue) for cue in "ABC")
    assert a < 0.7 * c and b < 0.7 * c and a > 0.2


def test_overexpectation_lowers_both_cues(runs):
    result = runs["overexpectation"]
    for cue in "AB":
        before = by_type(result, "pre-test", f"{cue}?")["cue_rpe"].mean()
        after = by_type(result, "test", f"{cue}?")["cue_rpe"].mean()
        assert after < 0.75 * before
    compound = by_type(result, "compound", "AB+")
    assert compound["reward_rpe"].iloc[0] < -0.5  # the summed prediction exceeds the reward


def test_conditioned_inhibitor_gets_negative_value(runs):
    result = runs["conditioned-inhibition"]
    assert cue_value(result.agent, result.task, "X") < -0.3
    assert by_type(result, "test", "X?")["cue_rpe"].mean() < -0.3
    assert by_type(result, "test", "A?")["cue_rpe"].mean() > 0.5
    assert abs(by_type(result, "test", "AX?")["cue_rpe"].mean()) < 0.2


def test_partial_reinforcement_scales_rpes_with_probability(runs):
    # Fiorillo et al. (2003): cue response rises, reward response falls with reward probability
    t = runs["partial-reinforcement"].trials
    late = t[t["trial"] >= t["trial"].max() / 2]
    order = ["A-", "B+ p=0.25", "C+ p=0.5", "D+ p=0.75", "E+"]
    cue = late.groupby("trial_type")["cue_rpe"].mean()[order].to_numpy()
    assert np.all(np.diff(cue) > 0.1)
    rewarded = late[late["rewarded"]].groupby("trial_type")["reward_rpe"].mean()[order[1:]].to_numpy()
    assert np.all(np.diff(rewarded) < -0.1)
    assert rewarded[0] > 0.5 and abs(rewarded[-1]) < 0.05


def test_second_order_conditioning(runs):
    result = runs["second-order-conditioning"]
    assert (result.trials.loc[result.trials["trial_type"] == "B>A-", "reward"] == 0).all()
    b = by_type(result, "test", "B?")["cue_rpe"].mean()
    c = by_type(result, "test", "C?")["cue_rpe"].mean()
    assert b > 0.1 and abs(c) < 1e-12
    assert cue_value(result.agent, result.task, "B") > 0.1


def test_omission_dip_and_unexpected_reward(runs):
    omitted = by_type(runs["omission"], "omission", "A-")["reward_rpe"]
    delivered = by_type(runs["omission"], "omission", "A+")["reward_rpe"]
    assert omitted.mean() < -0.4 and delivered.mean() > -0.05
    free = by_type(runs["unexpected-reward"], "test", "+")
    cued = by_type(runs["unexpected-reward"], "test", "A+")
    np.testing.assert_allclose(free["reward_rpe"], 1.0)
    np.testing.assert_allclose(free["cue_rpe"], 0.0)
    assert cued["reward_rpe"].abs().max() < 0.05


@pytest.mark.parametrize("representation", ["csc", "presence", "microstimuli"])
def test_every_representation_learns(representation):
    result = simulate_conditioning("acquisition", representation=representation, seed=0)
    t = result.trials
    assert t["reward_rpe"].iloc[-10:].mean() < t["reward_rpe"].iloc[:5].mean() - 0.2
    assert t["cue_rpe"].iloc[-10:].mean() > 0.2


def test_instrumental_variant_uses_the_soft_terms():
    result = simulate_conditioning("acquisition", instrumental=True, seed=0, tau=0.2)
    task, steps = result.task, result.steps
    assert isinstance(task, InstrumentalConditioningTask) and result.agent.n_actions == 2
    np.testing.assert_allclose(result.agent.prior, task.default_policy)
    np.testing.assert_allclose(steps["delta"], steps["value_rpe"] - steps["action_term"], atol=1e-12)
    assert steps["action_term"].abs().max() > 0.05
    late = steps[steps["trial"] >= 150]
    # it learns to lick on the step that enters the reward bin, and mostly not elsewhere
    assert late.loc[late["event"] == "reward", "action"].mean() > 0.9
    assert late.loc[late["event"] != "reward", "action"].mean() < 0.3
    assert result.trials["cue_rpe"].iloc[-20:].mean() > 0.2


def test_instrumental_reward_needs_a_lick_at_the_reward_step():
    proto = make_protocol("x", [("p", {"A+ r=2": 2})])
    task = InstrumentalConditioningTask(proto, lick_cost=0.1)
    for policy, expected in ((lambda t: 1, 2.0 - 0.1 * task.n_bins), (lambda t: 0, 0.0)):
        task.reset(seed=0)
        total, done, t = 0.0, False, 0
        while not done:
            _, r, done, _, _ = task.step(policy(t))
            total += r
            t += 1
        assert total == pytest.approx(expected)
    with pytest.raises(ValueError, match="p_lick"):
        InstrumentalConditioningTask(proto, p_lick=1.0)

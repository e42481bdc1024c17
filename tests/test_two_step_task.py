"""The two-step task: transitions, drifting rewards, canonical output and stay-probability signatures;
the compiled cohort simulator against the step-by-step agents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dopasoft as ds
from dopasoft.agents import HybridTwoStepAgent
from dopasoft.experiments import (
    TWO_STEP_MODELS,
    make_two_step_agent,
    simulate_two_step,
    stay_probabilities,
    to_canonical,
)
from dopasoft.experiments.generators import generator_for
from dopasoft.experiments.streams import seeded_generators
from dopasoft.fitting.simulate import two_step_reward_probabilities
from dopasoft.simulation import simulate
from dopasoft.tasks.two_step import (
    CANONICAL_COLUMNS,
    TwoStepTask,
    check_reward_probs,
    drifting_reward_probs,
    reflect,
    reflected_walk,
)

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


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


def reflect_by_hand(x, low, high):
    """Plain oracle: mirror at whichever bound is crossed until the value is inside."""
    while x < low or x > high:
        x = 2 * high - x if x > high else 2 * low - x
    return x


def test_reflect():
    np.testing.assert_allclose(reflect([0.8, 0.2, 0.5, 1.3, -0.3], 0.25, 0.75), [0.7, 0.3, 0.5, 0.3, 0.7])
    # far outside: 1.9 -> (0.75 mirror) -0.4 -> (0.25 mirror) 0.9 -> (0.75 mirror) 0.6
    assert reflect([1.9], 0.25, 0.75)[0] == pytest.approx(0.6)
    assert reflect([-1.6], 0.25, 0.75)[0] == pytest.approx(0.4)  # -1.6 -> 2.1 -> -0.6 -> 1.1 -> 0.4
    inside = np.random.default_rng(0).uniform(0.25, 0.75, 1000)
    np.testing.assert_array_equal(reflect(inside, 0.25, 0.75), inside)  # untouched, bit for bit


@given(st.floats(-50.0, 50.0), st.floats(0.0, 0.9), st.floats(0.01, 1.0))
@settings(max_examples=300, deadline=None)
def test_reflect_equals_repeated_mirroring(x, low, width):
    high = min(low + width, 1.0)
    assert reflect([x], low, high)[0] == pytest.approx(reflect_by_hand(x, low, high), abs=1e-9)


@pytest.mark.parametrize("sd", [0.5, 2.0])
def test_both_drift_functions_stay_in_the_band_for_any_step_size(sd):
    p = drifting_reward_probs(400, sd=sd, seed=2)
    assert p.min() >= 0.25 and p.max() <= 0.75
    cohort = two_step_reward_probabilities(30, 400, np.random.default_rng(2), sd=sd)
    assert cohort.min() >= 0.25 and cohort.max() <= 0.75  # a single reflection left the band
    again = two_step_reward_probabilities(30, 400, np.random.default_rng(2), sd=sd)
    np.testing.assert_array_equal(cohort, again)


def test_one_trial_sessions_and_cohorts():
    p = drifting_reward_probs(1, seed=0)
    assert p.shape == (1, 2, 2) and p.min() >= 0.25 and p.max() <= 0.75
    assert two_step_reward_probabilities(3, 1, np.random.default_rng(0)).shape == (3, 1, 2, 2)
    pd.testing.assert_frame_equal(simulate_two_step(3, 1, seed=2), python_loop(3, 1, "soft-q-lambda", {}, 2))


def test_cohort_drift_is_the_reflected_walk_of_its_draws():
    rng = np.random.default_rng(5)
    p = two_step_reward_probabilities(3, 50, rng, sd=0.3)
    rng = np.random.default_rng(5)
    p0 = rng.uniform(0.25, 0.75, size=(3, 2, 2))
    steps = [rng.normal(0.0, 0.3, size=(3, 2, 2)) for _ in range(50)]
    expected = np.empty((3, 50, 2, 2))
    cur = p0
    for t in range(50):
        expected[:, t] = cur
        cur = np.vectorize(reflect_by_hand)(cur + steps[t], 0.25, 0.75)
    np.testing.assert_allclose(p, expected, atol=1e-12)
    np.testing.assert_allclose(
        reflected_walk(p0, np.stack(steps[:-1], axis=1), 0.25, 0.75), expected, atol=1e-12
    )


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
    data = simulate_two_step(10, 200, model="soft-hybrid", params={"w": 1.0}, seed=12)
    reward, interaction = effects(data)
    assert interaction > 0.2
    sp = stay_probabilities(data)
    assert sp.loc[True, "common"] > sp.loc[True, "rare"]
    assert sp.loc[False, "rare"] > sp.loc[False, "common"]


def test_fitting_names_simulate_the_fitting_models():
    """simulate_two_step takes the fitting model specs: daw-hybrid is hBayesDM's hybrid, simulated by
    the fitting model's own generator (its parameters, not the soft-hybrid agent's)."""
    from dopasoft.fitting import get_model

    data = simulate_two_step(10, 200, model="daw-hybrid", params={"w": 1.0, "beta1": 8.0}, seed=12)
    _, interaction = effects(data)
    assert interaction > 0.2
    probs = np.random.default_rng(0).uniform(0.2, 0.8, size=(40, 2, 2))
    data = simulate_two_step(3, 40, model="daw-hybrid-4", reward_probs=probs, seed=1)
    assert tuple(data.columns) == CANONICAL_COLUMNS and len(data) == 120
    assert get_model("daw-hybrid-4").param_names == ("alpha", "beta", "pers", "w")
    pd.testing.assert_frame_equal(
        simulate_two_step(3, 40, model="soft-q-lambda+kappa", params={"kappa": 1.0}, seed=2),
        simulate_two_step(3, 40, model="soft-q-lambda", params={"kappa": 1.0}, seed=2),
    )
    with pytest.raises(ValueError, match="'tau' for model 'daw-hybrid'.*beta1"):
        simulate_two_step(2, 10, model="daw-hybrid", params={"tau": 0.3})
    with pytest.raises(ValueError, match="w must be in"):
        simulate_two_step(2, 10, model="daw-hybrid", params={"w": 2.0})
    with pytest.raises(ValueError, match="'hybrid'.*daw-hybrid.*soft-hybrid"):
        simulate_two_step(2, 10, model="hybrid")
    with pytest.raises(ValueError, match="kappa applies to the soft Q models only"):
        simulate_two_step(2, 10, model="daw-hybrid+kappa")


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
    a = simulate_two_step(3, 40, model="soft-hybrid", seed=5)
    pd.testing.assert_frame_equal(a, simulate_two_step(3, 40, model="soft-hybrid", seed=5))
    assert not a.equals(simulate_two_step(3, 40, model="soft-hybrid", seed=6))
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


# ----------------------------------------------------------------------------------------------
# the compiled cohort simulator against the step-by-step Python agents


class Uniforms:
    """A stand-in for ``numpy.random.Generator`` whose ``random()`` returns given numbers in order."""

    def __init__(self, values):
        self.values = list(values)

    def random(self):
        return self.values.pop(0)


def sticky_probabilities(p, previous, kappa):
    """pi(a) exp(kappa [a = previous]), normalised (the oracle of StickyChoice)."""
    w = np.array(p, dtype=float) * np.exp(kappa * (np.arange(2) == previous))
    return w / w.sum()


def drive_python_agent(agent, kappa, probs, u_transition, u_reward, p_common, margin, rng):
    """Run the Python agent trial by trial; each choice uniform sits ``margin`` from its threshold.

    Returns the uniforms used (n_trials, 4) and the choices (c1, s2, c2, r). A compiled generator fed
    the same uniforms makes the same choices only if its P(action 0) is within ``margin`` of the agent's.
    """
    inner = getattr(agent, "agent", agent)
    n = len(probs)
    u = np.empty((n, 4))
    out = np.empty((n, 4))
    previous = None
    for t in range(n):
        agent.reset_traces()
        p1 = inner.policy(0)
        if previous is not None and kappa:
            p1 = sticky_probabilities(p1, previous, kappa)
        u[t, 0] = float(np.clip(p1[0] + rng.choice([-1.0, 1.0]) * margin, 0.0, 1.0 - 1e-16))
        a1 = agent.act(0, Uniforms([u[t, 0]]))
        previous = a1
        u[t, 1] = u_transition[t]
        s2 = a1 if u[t, 1] < p_common else 1 - a1
        agent.update(0, a1, 0.0, 1 + s2, False)
        p2 = inner.policy(1 + s2)
        u[t, 2] = float(np.clip(p2[0] + rng.choice([-1.0, 1.0]) * margin, 0.0, 1.0 - 1e-16))
        a2 = agent.act(1 + s2, Uniforms([u[t, 2]]))
        u[t, 3] = u_reward[t]
        r = float(u[t, 3] < probs[t, s2, a2])
        agent.update(1 + s2, a2, r, 0, True)
        out[t] = a1, s2, a2, r
    return u, out


CASES = [
    (model, params, p_common)
    for model in TWO_STEP_MODELS
    for params, p_common in [({}, 0.7), ({"kappa": 1.5, "tau": 0.3}, 0.8), ({"alpha": 0.9, "tau": 0.05}, 1.0)]
]


@pytest.mark.parametrize(("model", "params", "p_common"), CASES)
def test_compiled_generator_chooses_as_the_python_agent_step_by_step(model, params, p_common):
    rng = np.random.default_rng(11)
    n = 120
    probs = rng.uniform(0.1, 0.9, size=(n, 2, 2))
    merged = {**TWO_STEP_MODELS[model], **params}
    agent = make_two_step_agent(model, params, p_common)
    u, expected = drive_python_agent(
        agent, merged["kappa"], probs, rng.random(n), rng.random(n), p_common, 1e-9, rng
    )
    assert 0 < expected[:, 0].mean() < 1 and 0 < expected[:, 2].mean() < 1  # both actions are taken
    gen, row = generator_for(model, merged)
    c1, s2, c2, r = gen.simulate_arrays(row[None, :], probs[None], u[None], p_common=p_common)
    np.testing.assert_array_equal(np.stack([c1[0], s2[0], c2[0], r[0]], axis=1), expected)


def python_loop(n_subjects, n_trials, model, params, seed, **task):
    """The per-subject loop simulate_two_step replaced: agent + TwoStepTask + simulate."""
    rng = np.random.default_rng(seed)
    frames = []
    for subject in range(n_subjects):
        env = TwoStepTask(n_trials, **task)
        agent = make_two_step_agent(model, params, env.p_common)
        result = simulate(agent, env, seed=int(rng.integers(2**32)))
        frames.append(to_canonical(result, subject=subject))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("model", list(TWO_STEP_MODELS))
@pytest.mark.parametrize(
    ("params", "task"),
    [
        ({}, {}),
        ({"kappa": -1.0}, {"deterministic": True}),
        ({"tau": 0.5}, {"p_common": 0.8, "drift_sd": 0.2, "bounds": (0.1, 0.9)}),
    ],
)
def test_same_seed_same_cohort_as_the_python_loop(model, params, task):
    expected = python_loop(4, 40, model, params, 7, **task)
    pd.testing.assert_frame_equal(
        simulate_two_step(4, 40, model=model, params=params, seed=7, **task), expected
    )


def test_explicit_schedule_is_shared_and_matches_the_python_loop():
    probs = np.random.default_rng(1).uniform(0, 1, size=(30, 2, 2))
    expected = python_loop(3, 30, "soft-hybrid", {}, 4, reward_probs=probs)
    pd.testing.assert_frame_equal(
        simulate_two_step(3, 30, model="soft-hybrid", reward_probs=probs, seed=4), expected
    )


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20), st.sampled_from([(), (1,), (7, 3)]))
@settings(max_examples=50, deadline=None)
def test_seeded_generators_are_default_rng(seeds, suffix):
    for gen, seed in zip(seeded_generators(seeds, suffix), seeds, strict=True):
        reference = np.random.default_rng([seed, *suffix] if suffix else seed)
        np.testing.assert_array_equal(gen.random(4), reference.random(4))
        np.testing.assert_array_equal(gen.normal(size=3), reference.normal(size=3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": {"alpha": 1.5}}, "alpha"),
        ({"params": {"tau": 0.0}}, "tau"),
        ({"params": {"tau": "warm"}}, "'tau' must be a number"),
        ({"params": {"kappa": float("nan")}}, "kappa"),
        ({"model": "soft-hybrid", "params": {"w": -0.1}}, "w must be"),
        ({"p_common": 0.3}, "p_common"),
        ({"drift_sd": -1.0}, "drift_sd"),
        ({"bounds": (0.9, 0.1)}, "bounds"),
    ],
)
def test_simulate_two_step_names_the_bad_setting(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_two_step(2, 10, **kwargs)


def test_runners_and_agents_have_one_home_and_tasks_hold_environments_only():
    import dopasoft.tasks.two_step as env_module

    assert ds.experiments.simulate_two_step is simulate_two_step
    assert ds.experiments.stay_probabilities is stay_probabilities
    assert ds.agents.TWO_STEP_MODELS is TWO_STEP_MODELS
    assert ds.agents.HybridTwoStepAgent is HybridTwoStepAgent
    moved = (
        "HybridTwoStepAgent",
        "StickyChoice",
        "TWO_STEP_MODELS",
        "simulate_two_step",
        "stay_probabilities",
    )
    for name in moved:  # no second path through the environment modules
        assert not hasattr(env_module, name), name
        assert not hasattr(ds.tasks, name), name
    with pytest.raises(AttributeError):
        _ = env_module.no_such_name

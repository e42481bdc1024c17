"""The agent loop: signals, probe trials, reproducibility, argument checks and the ``simulate`` CLI."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

import dopasoft as ds
from dopasoft.cli import main
from dopasoft.experiments.conditioning import conditioning_agent, simulate_conditioning
from dopasoft.simulation import SIGNALS, SimulationResult, simulate, td_signals
from dopasoft.tasks.conditioning import ConditioningTask, make_protocol, protocol_names
from dopasoft.tasks.mdp import chain_mdp
from dopasoft.tasks.two_step import CANONICAL_COLUMNS, TwoStepTask

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

STEP_COLUMNS = {
    "trial",
    "step",
    "state",
    "action",
    "reward",
    "next_state",
    "terminated",
    "learn",
    "delta",
    "value_rpe",
    "action_term",
    "value",
    "next_value",
}


def two_step_run(seed=0, n=40):
    agent = ds.SoftQLambda(3, 2, alpha=0.4, tau=0.3, lam=0.8)
    return simulate(agent, TwoStepTask(n), seed=seed)


def test_result_tables():
    result = simulate_conditioning("blocking", seed=0)
    assert isinstance(result, SimulationResult)
    steps, trials = result.steps, result.trials
    task = result.task
    assert STEP_COLUMNS | {"phase", "trial_type", "time", "event"} <= set(steps.columns)
    assert len(steps) == task.n_trials * task.n_bins
    assert len(trials) == task.n_trials
    assert {"trial", "phase", "trial_type", "cue_rpe", "reward_rpe", "n_steps", "reward"} <= set(
        trials.columns
    )
    # per-trial signals are the step deltas at the events
    cue = steps[steps["event"] == "cue"].set_index("trial")["delta"]
    rew = steps[steps["event"] == "reward"].set_index("trial")["delta"]
    np.testing.assert_array_equal(trials["cue_rpe"], cue)
    np.testing.assert_array_equal(trials["reward_rpe"], rew)
    # aligned traces: trials x time since cue onset
    traces = result.traces("delta")
    assert traces.shape == (task.n_trials, task.n_bins)
    np.testing.assert_array_equal(traces[0.0], trials["cue_rpe"])
    np.testing.assert_array_equal(traces[task.isi_bins * task.dt], trials["reward_rpe"])
    with pytest.raises(ValueError, match="'nope'"):
        result.traces("nope")


@pytest.mark.parametrize("make", ["two-step", "instrumental"])
def test_signal_identity(make):
    if make == "two-step":
        steps = two_step_run().steps
    else:
        steps = simulate_conditioning("acquisition", instrumental=True, seed=0, tau=0.3).steps
    np.testing.assert_allclose(steps["delta"], steps["value_rpe"] - steps["action_term"], atol=1e-12)
    np.testing.assert_allclose(steps.loc[steps["terminated"], "next_value"], 0.0)
    assert steps["action_term"].abs().max() > 0.01


@pytest.mark.parametrize("trace", ["tree-backup", "on-policy"])
def test_td_signals_match_the_learner(trace):
    rng = np.random.default_rng(0)
    agent = ds.SoftQLambda(
        4, 3, alpha=0.3, tau=0.5, lam=0.7, gamma=0.9, trace=trace, q_init=rng.normal(size=(4, 3))
    )
    for s, a, r, s2, term in [(0, 1, 0.5, 2, False), (2, 0, -1.0, 3, False), (3, 2, 1.0, 0, True)]:
        expected = td_signals(agent, s, a, r, s2, term)
        agent.update(s, a, r, s2, term)
        np.testing.assert_allclose(tuple(agent.last_step), tuple(expected), atol=1e-12)


def test_probe_trials_and_learn_false_leave_the_agent_unchanged():
    task = ConditioningTask(make_protocol("p", [("train", {"A+": 30}), ("test", {"A?": 5})]))
    agent = conditioning_agent(task)
    result = simulate(agent, task, seed=1)
    trained = result.trials.loc[result.trials["trial_type"] == "A?", "cue_rpe"]
    assert trained.nunique() == 1 and trained.iloc[0] > 0.3  # identical probes: nothing learnt
    frozen = agent.q
    again = simulate(agent, ConditioningTask(task.protocol), seed=2, learn=False)
    np.testing.assert_array_equal(agent.q, frozen)
    assert not again.steps["learn"].any()


class CountingAgent:
    """Wraps an agent, counting reset_traces calls."""

    def __init__(self, agent):
        self.agent = agent
        self.resets = 0

    def __getattr__(self, name):
        return getattr(self.agent, name)

    def reset_traces(self):
        self.resets += 1
        self.agent.reset_traces()


def test_traces_reset_at_every_trial_and_tabular_mdp_runs():
    agent = CountingAgent(ds.SoftQLambda(5, 2, alpha=0.5, tau=0.5, lam=0.9))
    result = simulate(agent, chain_mdp(5), n_trials=7, seed=0)
    assert agent.resets == 7
    assert result.trials["trial"].tolist() == list(range(7))
    ends = result.steps.groupby("trial")["terminated"].last()
    assert ends.all()
    assert result.steps["state"].dtype.kind == "i"


def test_same_seed_same_tables():
    proto = make_protocol("mixed", [("p", {"A+ p=0.5": 40, "B-": 40})])
    for run in (lambda s: simulate_conditioning(proto, seed=s), lambda s: two_step_run(seed=s)):
        a, b, c = run(3), run(3), run(4)
        pd.testing.assert_frame_equal(a.steps, b.steps)
        pd.testing.assert_frame_equal(a.trials, b.trials)
        assert not a.steps.equals(c.steps)


def test_generator_seed_is_accepted():
    a = two_step_run(seed=np.random.default_rng(9))
    b = two_step_run(seed=np.random.default_rng(9))
    pd.testing.assert_frame_equal(a.steps, b.steps)


def test_n_trials_checks():
    agent = ds.SoftQLambda(3, 2, alpha=0.4, tau=0.3, lam=0.8)
    with pytest.raises(ValueError, match="n_trials"):
        simulate(agent, TwoStepTask(10), n_trials=-1)
    with pytest.raises(ValueError, match="n_trials=11 exceeds the 10 trials"):
        simulate(agent, TwoStepTask(10), n_trials=11)
    with pytest.raises(ValueError, match="n_trials is required"):
        simulate(ds.SoftQLambda(5, 2, alpha=0.5, tau=0.5, lam=0.9), chain_mdp(5))
    assert len(simulate(agent, TwoStepTask(10), n_trials=4).trials) == 4
    assert simulate(agent, TwoStepTask(10), n_trials=0).steps.empty


def test_simulation_does_not_share_state_between_copies():
    agent = ds.SoftQLambda(3, 2, alpha=0.4, tau=0.3, lam=0.8)
    clone = copy.deepcopy(agent)
    simulate(agent, TwoStepTask(20), seed=0)
    assert not np.array_equal(agent.q, clone.q)
    assert set(SIGNALS) <= set(two_step_run().steps.columns)


# -- command line ------------------------------------------------------------------------------------------
def test_cli_conditioning_round_trip(tmp_path):
    out, trace_out = tmp_path / "trials.csv", tmp_path / "steps.csv"
    code = main(
        [
            "simulate",
            "conditioning",
            "--protocol",
            "blocking",
            "--seed",
            "3",
            "--alpha",
            "0.2",
            "--lam-per-s",
            "0.6",
            "--out",
            str(out),
            "--trace-out",
            str(trace_out),
        ]
    )
    assert code == 0
    trials = pd.read_csv(out)
    assert list(trials.columns[:3]) == ["trial", "phase", "trial_type"]
    assert {"cue_rpe", "reward_rpe"} <= set(trials.columns)
    expected = simulate_conditioning("blocking", seed=3, alpha=0.2, lam_per_s=0.6).trials
    np.testing.assert_allclose(trials["cue_rpe"], expected["cue_rpe"])
    assert trials["phase"].tolist() == expected["phase"].tolist()
    steps = pd.read_csv(trace_out)
    assert len(steps) == len(trials) * ConditioningTask("blocking").n_bins
    assert {"time", "delta", "value_rpe", "action_term"} <= set(steps.columns)


def test_cli_two_step_round_trip(tmp_path):
    out = tmp_path / "ts.csv"
    args = [
        "simulate",
        "two-step",
        "--n-subjects",
        "3",
        "--n-trials",
        "25",
        "--model",
        "soft-hybrid",
        "--param",
        "w=0.7",
        "--param",
        "alpha=0.3",
        "--seed",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    data = pd.read_csv(out)
    assert tuple(data.columns) == CANONICAL_COLUMNS
    assert len(data) == 75 and sorted(data["subject"].unique()) == [0, 1, 2]
    assert main([*args[:-1], str(tmp_path / "again.csv")]) == 0
    pd.testing.assert_frame_equal(data, pd.read_csv(tmp_path / "again.csv"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["conditioning", "--protocol", "nope"], "unknown protocol 'nope'; valid protocols: acquisition"),
        (["conditioning", "--representation", "nope"], "representation 'nope'"),
        (["two-step", "--n-subjects", "-2"], "argument --n-subjects: must be a positive integer, got '-2'"),
        (["two-step", "--n-trials", "0"], "argument --n-trials: must be a positive integer, got '0'"),
        (["two-step", "--model", "nope"], "argument --model: unknown model 'nope'"),
        (["two-step", "--model", "daw-hybrid", "--param", "tau=0.3"], "unknown parameter 'tau'"),
    ],
)
def test_cli_errors(tmp_path, capsys, args, message):
    out = tmp_path / "x.csv"
    try:
        rc = main(["simulate", *args, "--out", str(out)])
    except SystemExit as stop:  # a bad option value, refused by argparse
        rc = stop.code
    assert rc == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
    assert not out.exists()


def test_cli_help_lists_protocols(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in protocol_names():
        assert name in text
    assert main(["simulate"]) == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: ds.SoftQLambda(4, 2, alpha=0.2, tau=0.5, lam=0.9, gamma=0.9, trace="retrace"),
        lambda: ds.NStepSoftQ(4, 2, n=3, alpha=0.2, tau=0.5, gamma=0.9, correction="importance"),
    ],
)
def test_simulate_gives_off_policy_learners_their_behaviour_probabilities(make):
    """Retrace and importance sampling need b(a|s); the loop passes the agent's own policy."""
    from dopasoft.tasks import chain_mdp

    agent = make()
    assert agent.needs_behaviour_prob
    result = ds.simulate(agent, chain_mdp(4), n_trials=20, seed=0)
    assert result.trials["n_steps"].min() >= 3
    assert agent.q[:3, 1].min() > 0  # the rewarded move was learnt back along the chain


def test_learners_and_two_step_agents_satisfy_the_agent_protocol():
    from dopasoft.agents import Agent, HybridTwoStepAgent, StickyChoice

    agents = [
        ds.SoftQLambda(3, 2, alpha=0.5, tau=0.2, lam=0.9),
        ds.NStepSoftQ(3, 2, alpha=0.5, tau=0.2, n=2),
        HybridTwoStepAgent(alpha=0.5, tau=0.2),
        StickyChoice(HybridTwoStepAgent(alpha=0.5, tau=0.2), kappa=1.0),
    ]
    for agent in agents:
        assert isinstance(agent, Agent), type(agent).__name__
        result = simulate(agent, TwoStepTask(5), seed=0)  # the loop runs every one of them
        assert len(result.trials) == 5

    class NoLearning:  # acts but cannot learn: not an agent
        gamma = 1.0
        last_step = None

        def act(self, state, rng):
            return 0

    assert not isinstance(NoLearning(), Agent)
    assert ds.Agent is Agent and ds.agents.HybridTwoStepAgent is HybridTwoStepAgent


def test_sticky_off_policy_learner_gets_the_sticky_behaviour_probability():
    from dopasoft.agents import StickyChoice

    inner = ds.SoftQLambda(3, 2, alpha=0.5, tau=0.5, lam=0.9, trace="retrace")
    sticky = StickyChoice(inner, kappa=2.0)
    seen = []
    original = inner.update

    def spy(state, action, reward, next_state, terminated, behaviour_prob=None):
        seen.append((state, action, behaviour_prob, inner.policy(state)[action]))
        return original(state, action, reward, next_state, terminated, behaviour_prob=behaviour_prob)

    inner.update = spy
    simulate(sticky, TwoStepTask(20), seed=1)
    stage1 = [s for s in seen if s[0] == 0]
    assert stage1[0][2] == pytest.approx(stage1[0][3])  # no previous choice on the first trial
    for (_, previous, _, _), (_, action, b, plain) in zip(stage1, stage1[1:], strict=False):
        # b(a|0) = pi(a) e^{kappa [a = previous]} / Z, by hand from the plain pi(a)
        w_action = plain * np.exp(2.0 * (action == previous))
        w_other = (1.0 - plain) * np.exp(2.0 * (action != previous))
        assert b == pytest.approx(w_action / (w_action + w_other))

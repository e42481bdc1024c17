"""The action-prediction-error experiment (docs/maths.md §7, docs/tasks.md): the numbers behind its claims.

Ground truths: a plain replay of the learned default policy from the table's own cues and choices (an
exponentially weighted average per cue), ``1 - 1 / n_actions`` for a never-heard cue, and a replay of the
same choices with other outcomes.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dopasoft.analysis import plot_action_prediction_errors  # noqa: E402
from dopasoft.cli import main  # noqa: E402
from dopasoft.experiments.discrimination import (  # noqa: E402
    DISCRIMINATION_COLUMNS,
    discrimination_experiment,
)

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

N, NOVEL_AT, RATE = 400, 300, 0.05


@pytest.fixture(scope="module")
def table():
    return discrimination_experiment(N, novel_at=NOVEL_AT, prior_rate=RATE, seed=0)


def plain_action_pe(cues, actions, rate, n_cues=3, n_actions=2):
    """1 - pi0(a|cue) before each trial's update, pi0 an exponentially weighted average per cue."""
    prior = np.full((n_cues, n_actions), 1.0 / n_actions)
    out = []
    for c, a in zip(cues, actions, strict=True):
        out.append(1.0 - prior[c, a])
        prior[c] = (1 - rate) * prior[c] + rate * np.eye(n_actions)[a]
    return np.array(out)


def test_table_columns_and_signals(table):
    assert list(table.columns) == list(DISCRIMINATION_COLUMNS) and len(table) == N
    assert (table["trial"] == np.arange(N)).all() and (table["seed"] == 0).all()
    expect = plain_action_pe(table["cue"], table["action"], RATE)
    np.testing.assert_allclose(table["action_pe"], expect, rtol=0, atol=1e-12)
    # one step per trial, terminal: value_rpe = r - V(cue); reward_rpe = r - Q(cue, a) = value_rpe - action_term
    np.testing.assert_allclose(table["value_rpe"], table["reward"] - table["value"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        table["reward_rpe"], table["value_rpe"] - table["action_term"], rtol=0, atol=1e-12
    )
    # action_term = tau log(pi / pi0): the table's p_action and prior_action satisfy it
    np.testing.assert_allclose(
        table["action_term"], 0.25 * np.log(table["p_action"] / table["prior_action"]), rtol=1e-12, atol=1e-14
    )
    assert (table["correct"] == (table["action"] == np.where(table["cue"] == 1, 1, 0))).all()
    assert (table["reward"] == table["correct"].astype(float)).all()
    assert (
        table["novel"].to_numpy().nonzero()[0][0] == NOVEL_AT
        and (table["novel"] == (table["cue"] == 2)).all()
    )


def test_chosen_action_pe_falls_over_training(table):
    familiar = table[~table["novel"]]
    early, late = familiar["action_pe"].iloc[:20].mean(), familiar["action_pe"].iloc[-50:].mean()
    assert early > 0.4  # pi0 starts uniform: 1 - 1/2 on the first trial of each cue
    assert late < 0.01  # the practised (correct) action is habitual
    assert familiar["correct"].iloc[-50:].mean() > 0.95


def test_action_pe_jumps_for_a_novel_cue(table):
    before = table["action_pe"].iloc[NOVEL_AT - 20 : NOVEL_AT].mean()
    assert before < 0.01
    assert table["action_pe"].iloc[NOVEL_AT] == 0.5  # never heard: pi0 uniform, 1 - 1/n_actions


def test_action_pe_is_blind_to_reward_and_the_value_signals_are_not(table):
    replay = discrimination_experiment(
        N,
        novel_at=NOVEL_AT,
        prior_rate=RATE,
        seed=0,
        actions=table["action"].tolist(),
        reward=0.0,
        error_reward=1.0,
    )
    assert (replay["action"] == table["action"]).all() and (replay["cue"] == table["cue"]).all()
    assert (replay["reward"] != table["reward"]).all()
    assert (replay["action_pe"] == table["action_pe"]).all()
    assert (replay["prior_action"] == table["prior_action"]).all()
    assert np.abs(replay["reward_rpe"] - table["reward_rpe"]).max() > 0.5
    assert np.abs(replay["value_rpe"] - table["value_rpe"]).max() > 0.5
    # the action term compares pi with pi0, and pi is the Boltzmann policy of Q: not value-free
    assert np.abs(replay["action_term"] - table["action_term"]).max() > 0.3
    bigger = discrimination_experiment(
        N, novel_at=NOVEL_AT, prior_rate=RATE, seed=0, actions=table["action"].tolist(), reward=5.0
    )
    assert (bigger["action_pe"] == table["action_pe"]).all()
    np.testing.assert_allclose(bigger["reward_rpe"].iloc[0], 5.0 * table["reward_rpe"].iloc[0])


def test_reward_rpe_vanishes_with_training_and_value_rpe_keeps_the_action_term():
    """With a fixed uniform pi0 the conventional outcome RPE r - Q(cue, a) goes to 0 once outcomes are
    predicted; r - V(cue) keeps tau log(pi/pi0), about tau log 2 at 100 % correct (docs/maths.md §7)."""
    tau = 0.25
    late = discrimination_experiment(400, prior_rate=0.0, tau=tau, seed=0).iloc[-50:]
    assert late["correct"].all()
    assert late["reward_rpe"].abs().max() < 1e-6
    plateau = tau * np.log(late["p_action"] / 0.5)  # oracle: the action term from the choice probability
    np.testing.assert_allclose(late["value_rpe"], late["reward_rpe"] + plateau, rtol=1e-9, atol=1e-12)
    assert 0.9 * tau * np.log(2) < late["value_rpe"].mean() <= tau * np.log(2)


def test_fixed_default_policy_has_no_habit():
    fixed = discrimination_experiment(100, novel_at=50, prior_rate=0.0, seed=1)
    assert (fixed["action_pe"] == 0.5).all() and (fixed["prior_action"] == 0.5).all()


def test_same_seed_same_table_and_bad_actions(table):
    assert discrimination_experiment(N, novel_at=NOVEL_AT, prior_rate=RATE, seed=0).equals(table)
    with pytest.raises(ValueError, match="actions must give one action per trial"):
        discrimination_experiment(5, actions=[0, 1])
    with pytest.raises(ValueError, match=r"actions\[1\] must be an action in 0..1, got 2"):
        discrimination_experiment(3, actions=[0, 2, 1])
    with pytest.raises(ValueError, match="prior_rate must be in"):
        discrimination_experiment(3, prior_rate=1.0)
    with pytest.raises(ValueError, match=r"novel_at must be a trial in 0..9, got 10"):
        discrimination_experiment(10, novel_at=10)


def test_cli_simulate_discrimination(tmp_path, table):
    out = tmp_path / "ape.csv"
    argv = [
        "simulate",
        "discrimination",
        "--out",
        str(out),
        "--n-trials",
        str(N),
        "--novel-at",
        str(NOVEL_AT),
    ]
    assert main([*argv, "--prior-rate", str(RATE), "--seed", "0"]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == list(DISCRIMINATION_COLUMNS)
    np.testing.assert_allclose(written["action_pe"], table["action_pe"], rtol=1e-15, atol=0)
    assert (written["action"] == table["action"]).all()
    shared = tmp_path / "shared.csv"
    assert main([*argv[:2], "--out", str(shared), *argv[4:], "--prior-scope", "marginal", "--seed", "0"]) == 0
    expect = discrimination_experiment(N, novel_at=NOVEL_AT, prior_scope="marginal", seed=0)
    np.testing.assert_allclose(
        pd.read_csv(shared)["action_term"], expect["action_term"], rtol=1e-15, atol=1e-17
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--n-trials", "0"],
            "discrimination: error: argument --n-trials: must be a positive integer, got '0'",
        ),
        (["--n-trials", "50", "--novel-at", "50"], "error: --novel-at must be a trial in 0..49, got 50"),
        (["--prior-rate", "1"], "--prior-rate must be in [0, 1), got 1"),
        (["--prior-rate", "nan"], "--prior-rate must be in [0, 1), got nan"),
        (["--alpha", "0"], "--alpha must be in (0, 1], got 0"),
        (["--tau", "-1"], "--tau must be a finite number > 0, got -1"),
        (["--novel-fraction", "2"], "--novel-fraction must be in (0, 1], got 2"),
        (["--reward", "inf"], "--reward must be finite, got inf"),
    ],
)
def test_cli_simulate_discrimination_errors(tmp_path, capsys, extra, message):
    out = tmp_path / "ape.csv"
    try:
        rc = main(["simulate", "discrimination", "--out", str(out), *extra])
    except SystemExit as stop:  # a bad option value: argparse's usage (may wrap), then one error line
        rc, lines = stop.code, capsys.readouterr().err.strip().splitlines()
        assert lines[0].startswith("usage: dopasoft simulate discrimination")
        err = lines[-1:]
    else:
        err = capsys.readouterr().err.strip().splitlines()
    assert (
        rc == 2 and len(err) == 1 and err[0].startswith("dopasoft simulate") and err[0].endswith(message)
    ), err
    assert not out.exists()


def test_plot_action_prediction_errors(table):
    replay = discrimination_experiment(
        N, novel_at=NOVEL_AT, seed=0, actions=table["action"].tolist(), reward=0.0, error_reward=1.0
    )
    fig = plot_action_prediction_errors(table, replay=replay)
    a, b = fig.axes
    assert "Action prediction error" in a.get_ylabel() and "Reward RPE" in b.get_ylabel()
    assert a.get_xlabel() == b.get_xlabel() == "Trial"
    # per panel: dots and running mean per cue kind, the replay's running mean, the novel-cue marker
    assert len(a.get_lines()) == len(b.get_lines()) == 2 * 3 + 1
    running = a.get_lines()[1].get_ydata()
    familiar = table.loc[~table["novel"], "action_pe"].to_numpy()
    # the running mean is centred (window 10: 5 trials either side), not trailing: it does not lag the dots
    assert running[-1] == pytest.approx(familiar[-6:].mean(), abs=1e-12)
    assert running[100] == pytest.approx(familiar[95:106].mean(), abs=1e-12)
    with pytest.raises(ValueError, match="table has no column 'reward_rpe'"):
        plot_action_prediction_errors(table.drop(columns="reward_rpe"))

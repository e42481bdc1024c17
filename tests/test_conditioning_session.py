"""Conditioning on a lab's own session file: per-trial timing, the lab's outcomes, bad rows named.

Ground truth: hand-worked TD(0) answers and a plain TD(lambda) oracle over CSC features written here
(no dopasoft code), and a named protocol's simulation reproduced from its own schedule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dopasoft.cli import main
from dopasoft.experiments.conditioning import read_session, simulate_conditioning
from dopasoft.tasks.conditioning import ConditioningTask, make_session

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)

DT, ONSET, ISI, POST = 0.25, 1.0, 1.5, 0.5  # the task's defaults


def td_oracle(rows, *, alpha, lam, gamma):
    """Plain TD(lambda), CSC, accumulating traces, one action: the step deltas of every trial.

    ``rows``: dicts with ``cues`` (letters), ``onset`` and ``reward_time`` (s), ``reward`` (delivered
    size, 0 if none) and ``learn``. A CSC feature is (cue, bins since its onset); the trial lasts until
    the latest reward bin of the session plus the post-reward bins; the last step is terminal (V = 0).
    """
    bins = [(round(r["onset"] / DT), round(r["onset"] / DT) + round(r["reward_time"] / DT)) for r in rows]
    n_bins = max(rb for _, rb in bins) + 1 + round(POST / DT)
    w: dict[tuple[str, int], float] = {}
    out = []
    for r, (onset, reward_bin) in zip(rows, bins, strict=True):

        def x(b, cues=r["cues"], onset=onset):
            return [(c, b - onset) for c in cues if b >= onset]

        def v(feats):
            return sum(w.get(f, 0.0) for f in feats)

        e: dict[tuple[str, int], float] = {}
        deltas = []
        for b in range(n_bins):
            terminal = b + 1 == n_bins
            reward = r["reward"] if b + 1 == reward_bin else 0.0
            delta = reward + (0.0 if terminal else gamma * v(x(b + 1))) - v(x(b))
            deltas.append(delta)
            if r["learn"]:
                for f in e:
                    e[f] *= gamma * lam
                for f in x(b):
                    e[f] = e.get(f, 0.0) + 1.0
                for f, trace in e.items():
                    w[f] = w.get(f, 0.0) + alpha * delta * trace
        out.append(deltas)
    return np.array(out)


# -- hand-worked answers (TD(0), CSC, one cue) -------------------------------------------------------------
def test_td0_first_reward_later_reward_and_omission_dip():
    alpha, gamma, size, n_train = 0.3, 0.9, 2.0, 6
    session = pd.DataFrame(
        {
            "trial": np.arange(101, 101 + n_train + 2),
            "trial_type": ["A+"] * (n_train + 2),
            "reward_time": [1.5] * n_train + [2.5, 1.5],
            "reward": [size] * (n_train + 2),
            "rewarded": [1] * (n_train + 1) + [0],
        }
    )
    result = simulate_conditioning(
        session=session, seed=0, alpha=alpha, lam_per_s=0.0, gamma_per_s=gamma**4
    )  # gamma per 0.25-s bin
    t, steps = result.trials, result.steps
    assert t["trial"].tolist() == list(range(101, 109))  # the session's own trial numbers
    assert t["reward_rpe"].iloc[0] == pytest.approx(size)  # nothing predicted yet: RPE = reward size
    # TD(0): only the feature just before the reward bin (1.25 s after onset) learns, w <- w + a (r - w)
    w = size * (1 - (1 - alpha) ** n_train)
    # trial 107: reward 1 s later than trained -> a dip of -w at 1.5 s and the full reward RPE at 2.5 s
    later = steps[steps["trial"] == 107].set_index("time")["delta"]
    assert later[1.5] == pytest.approx(-w, abs=1e-12)
    assert later[2.5] == pytest.approx(size, abs=1e-12)
    assert t.loc[t["trial"] == 107, "reward_rpe"].item() == pytest.approx(size, abs=1e-12)
    # trial 108: the scheduled reward is omitted -> a dip at the scheduled time; trial 107's dip at 1.5 s
    # (target 0) moved the weight to w + alpha (0 - w)
    w_after = w + alpha * (0.0 - w)
    assert t["reward_rpe"].iloc[-1] == pytest.approx(-w_after, abs=1e-12)
    assert t["reward"].tolist() == [size] * 7 + [0.0] and t["rewarded"].tolist() == [True] * 7 + [False]


def test_session_matches_plain_td_lambda_oracle_with_per_trial_timing():
    rows = [
        ("A+", 1.0, 1.5, 1.0, 1),
        ("A+", 0.5, 1.5, 2.0, 1),
        ("AB+", 1.5, 2.0, 1.0, 1),
        ("A+", 1.0, 0.75, 1.0, 0),  # reward omitted (the lab's outcome)
        ("B-", 0.25, 1.25, np.nan, 0),
        ("A?", 1.0, 1.5, np.nan, 0),  # probe: no learning
        ("+", 1.0, 0.5, 3.0, 1),  # uncued reward, timed from the nominal onset
        ("A+ r=5", 0.75, 3.0, 0.5, 1),  # the reward column overrides r=
    ]
    session = pd.DataFrame(rows, columns=["trial_type", "cue_onset", "reward_time", "reward", "rewarded"])
    alpha, lam, gamma = 0.2, 0.7, 0.95
    result = simulate_conditioning(
        session=session, seed=1, alpha=alpha, lam_per_s=lam**4, gamma_per_s=gamma**4
    )  # per 0.25-s bin: lam, gamma
    oracle_rows = [
        {
            "cues": tt.split()[0].rstrip("+-?"),
            "onset": onset,
            "reward_time": rt,
            "reward": (size if rewarded else 0.0),
            "learn": not tt.startswith("A?"),
        }
        for tt, onset, rt, size, rewarded in rows
    ]
    expected = td_oracle(oracle_rows, alpha=alpha, lam=lam, gamma=gamma)
    got = result.steps.pivot(index="trial", columns="step", values="delta").to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    reward_steps = result.steps[result.steps["event"] == "reward"]
    np.testing.assert_array_equal(reward_steps["time"], [r[2] for r in rows])  # reward at its own time
    assert result.trials["reward"].tolist() == [1.0, 2.0, 1.0, 0.0, 0.0, 0.0, 3.0, 0.5]


def test_reward_size_may_be_blank_where_no_reward_was_delivered():
    session = make_session(
        pd.DataFrame({"trial_type": ["A+", "A+", "A-"], "rewarded": [1, 0, 0], "reward": [2.0, None, None]})
    )
    result = simulate_conditioning(session=session, seed=0)
    assert result.trials["reward"].tolist() == [2.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="row 0, column 'reward': missing value"):
        make_session(pd.DataFrame({"trial_type": ["A+"], "rewarded": [1], "reward": [None]}))


def test_iti_is_kept_and_does_not_change_the_model():
    base = pd.DataFrame({"trial_type": ["A+", "A-", "A+", "A+"], "rewarded": [1, 0, 1, 0]})
    a = simulate_conditioning(session=base.assign(iti=[5.0, 30.0, 2.0, 0.0]), seed=0)
    b = simulate_conditioning(session=base.assign(iti=[60.0, 1.0, 1.0, 1.0]), seed=0)
    np.testing.assert_array_equal(a.steps["delta"], b.steps["delta"])
    assert a.trials["iti"].tolist() == [5.0, 30.0, 2.0, 0.0]


# -- a protocol's own schedule, written as a session, reproduces the protocol --------------------------------
@pytest.mark.parametrize(
    ("protocol", "options"),
    [
        ("partial-reinforcement", {}),
        ("second-order-conditioning", {"representation": "microstimuli"}),
        ("omission", {"instrumental": True, "tau": 0.3}),
    ],
)
def test_session_from_a_protocols_schedule_reproduces_it(tmp_path, protocol, options):
    run = simulate_conditioning(protocol, seed=4, **options)
    path = tmp_path / "schedule.csv"
    run.trials[["trial", "phase", "trial_type", "rewarded"]].astype({"rewarded": int}).to_csv(
        path, index=False
    )
    replay = simulate_conditioning(session=path, seed=4, **options)
    pd.testing.assert_frame_equal(replay.trials, run.trials, check_exact=True)
    pd.testing.assert_frame_equal(replay.steps, run.steps, check_exact=True)
    np.testing.assert_array_equal(replay.agent.q, run.agent.q)


# -- command line -----------------------------------------------------------------------------------------
def test_cli_session_keeps_trial_numbers_and_columns(tmp_path):
    session = pd.DataFrame(
        {
            "trial": [7, 8, 9],
            "trial_type": ["A+", "A+", "A-"],
            "reward_time": [1.5, 2.0, 1.5],
            "rewarded": [1, 1, 0],
            "photometry_file": ["m1_t7.csv", "m1_t8.csv", "m1_t9.csv"],
            "reward": [1.0, 1.0, 0.0],
        }
    )
    path = tmp_path / "session.csv"
    session.to_csv(path, index=False)
    out, trace_out = tmp_path / "rpe.csv", tmp_path / "steps.csv"
    argv = [
        "simulate",
        "conditioning",
        "--session",
        str(path),
        "--out",
        str(out),
        "--trace-out",
        str(trace_out),
    ]
    assert main(argv) == 0
    trials, steps = pd.read_csv(out), pd.read_csv(trace_out)
    assert trials["trial"].tolist() == [7, 8, 9] and set(steps["trial"]) == {7, 8, 9}
    assert trials["photometry_file"].tolist() == session["photometry_file"].tolist()
    assert trials["reward_size"].tolist() == [1.0, 1.0, 0.0]
    assert trials["reward_rpe"].iloc[0] == pytest.approx(1.0) and trials["reward_rpe"].iloc[
        1
    ] == pytest.approx(1.0)
    expected = simulate_conditioning(session=read_session(path), seed=0).trials
    np.testing.assert_allclose(trials["reward_rpe"], expected["reward_rpe"])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("dopasoft simulate: error: ") and "\n" not in err, err
    return err


BAD_SESSIONS = [
    ({"type": ["A+"]}, "no column 'trial_type'"),
    ({"trial_type": ["A+", "a+"]}, r"row 2, column 'trial_type': trial type 'a\+' is malformed"),
    ({"trial_type": ["A+", None]}, "row 2, column 'trial_type': missing trial type"),
    ({"trial_type": ["A+", "A+"], "reward_time": [1.5, None]}, "row 2, column 'reward_time': missing value"),
    ({"trial_type": ["A+", "A+"], "cue_onset": [1.0, -0.5]}, "row 2, column 'cue_onset': negative time"),
    ({"trial_type": ["A+", "A+"], "iti": [1.0, "soon"]}, "row 2, column 'iti': 'soon' is not a number"),
    (
        {"trial_type": ["A+", "A+"], "cue_onset": [1.0, 0.0]},
        "row 2, column 'cue_onset': 0 s is less than one bin",
    ),
    (
        {"trial_type": ["A+", "A+"], "reward_time": [1.5, 0.0]},
        "row 2, column 'reward_time': the reward at 0 s",
    ),
    (
        {"trial_type": ["A+", "B>A+"], "reward_time": [1.5, 0.5]},
        "row 2, column 'reward_time'.*last cue onset",
    ),
    (
        {"trial_type": ["A+", "A+"], "reward_time": [1.5, 1e9]},
        "row 2, column 'reward_time': 1e.09 s .*would need",
    ),
    (
        {"trial_type": ["A+", "A-"], "rewarded": [1, 1]},
        "row 2, column 'rewarded': rewarded=1 on trial type 'A-'",
    ),
    (
        {"trial_type": ["A+", "B?"], "rewarded": [1, True]},
        "row 2, column 'rewarded': rewarded=1 on trial type 'B\\?'",
    ),
    ({"trial_type": ["A+", "A+"], "rewarded": [1, 2]}, "row 2, column 'rewarded': 2 is not 0 or 1"),
    (
        {"trial_type": ["A+", "A-"], "reward": [1.0, 1.0]},
        "row 2, column 'reward': reward size 1 on trial type 'A-'",
    ),
    ({"trial_type": ["A+", "A+"], "reward": [1.0, None]}, "row 2, column 'reward': missing value"),
    ({"trial_type": ["A+", "A+"], "trial": [3, 3]}, "row 2, column 'trial': trial 3 repeats row 1"),
    ({"trial_type": ["A+", "A+"], "subject": ["m1", "m2"]}, "column 'subject': 2 subjects in one session"),
    ({"trial_type": ["A+"], "cue_rpe": [0.1]}, "column 'cue_rpe': the output has a column of that name"),
]


@pytest.mark.parametrize(("columns", "message"), BAD_SESSIONS)
def test_bad_rows_are_named_in_python(columns, message):
    table = pd.DataFrame(columns)
    table.index = pd.RangeIndex(1, len(table) + 1)  # as read from a file: data row 1 after the header
    with pytest.raises(ValueError, match=message):
        ConditioningTask(make_session(table))


@pytest.mark.parametrize(("columns", "message"), BAD_SESSIONS)
def test_bad_rows_are_named_on_the_command_line(tmp_path, capsys, columns, message):
    path = tmp_path / "session.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    out = tmp_path / "rpe.csv"
    assert main(["simulate", "conditioning", "--session", str(path), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert str(path) in err
    assert pd.Series([err]).str.contains(message).item(), err
    assert not out.exists()


def test_session_and_protocol_are_mutually_exclusive(tmp_path, capsys):
    path = tmp_path / "session.csv"
    pd.DataFrame({"trial_type": ["A+"]}).to_csv(path, index=False)
    argv = [
        "simulate",
        "conditioning",
        "--session",
        str(path),
        "--protocol",
        "blocking",
        "--out",
        str(tmp_path / "o.csv"),
    ]
    assert main(argv) == 2
    assert "--session and --protocol are mutually exclusive" in _one_line_error(capsys)
    with pytest.raises(ValueError, match="not both"):
        simulate_conditioning("blocking", session=path)
    out = tmp_path / "o.csv"
    assert main(["simulate", "conditioning", "--session", str(path), "--out", str(path)]) == 2
    assert "session.csv" in _one_line_error(capsys) and not out.exists()


def test_a_session_file_given_as_protocol_points_to_session(tmp_path, capsys):
    argv = ["simulate", "conditioning", "--protocol", "session.csv", "--out", str(tmp_path / "o.csv")]
    assert main(argv) == 2
    assert "unknown protocol 'session.csv'" in (err := _one_line_error(capsys)) and "--session" in err


def test_misspelt_column_is_flagged():
    with pytest.warns(UserWarning, match="'reward_tme' is not read by the model .*'reward_time'"):
        make_session(pd.DataFrame({"trial_type": ["A+"], "reward_tme": [2.0]}))


# -- the runner lives in the experiments layer, its one home ------------------------------------------------
def test_runner_lives_in_experiments_only():
    import importlib

    import dopasoft.experiments as experiments
    import dopasoft.tasks.conditioning as conditioning

    assert experiments.simulate_conditioning is simulate_conditioning
    for name in ("CONDITIONING_DEFAULTS", "conditioning_agent", "read_session", "simulate_conditioning"):
        assert not hasattr(conditioning, name), name  # environments only in tasks/
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("dopasoft.tasks.conditioning.experiment")
    with pytest.raises(AttributeError):
        conditioning.nothing_here  # noqa: B018

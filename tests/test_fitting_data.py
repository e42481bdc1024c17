"""Choice-data layer: formats, validation messages, missing choices, Transitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step

import dopasoft.fitting as F
from dopasoft.fitting.data import hbayesdm_to_canonical


def _canon():
    return pd.DataFrame(
        {
            "subject": ["a", "a", "a", "b", "b"],
            "trial": [1, 2, 3, 1, 2],
            "choice1": [0, 1, 0, 1, 1],
            "state2": [0, 0, 1, 1, 0],
            "choice2": [1, 0, 1, 0, 1],
            "reward": [1.0, 0.0, 0.5, 1.0, 0.0],
        }
    )


def test_hbayesdm_file_keeps_ids_and_maps_codes(tmp_path):
    path = tmp_path / "ts.txt"
    path.write_text(
        "subjID\tlevel1_choice\tlevel2_choice\treward\n"
        "007\t1\t1\t1\n007\t2\t4\t0\n007\t2\t2\t1\n10\t1\t3\t0\n"
    )
    df = F.read_hbayesdm(path)
    assert list(df["subject"]) == ["007", "007", "007", "10"]
    assert list(df["trial"]) == [1, 2, 3, 1]
    assert list(df["choice1"]) == [0, 1, 1, 0]
    assert list(df["state2"]) == [0, 1, 0, 1]
    assert list(df["choice2"]) == [0, 1, 1, 0]
    assert F.read_choices(path)["subject"].tolist() == ["007", "007", "007", "10"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_canonical_files(tmp_path, suffix):
    df = random_two_step(seed=1, missing=0.1)
    path = tmp_path / f"d.{suffix}"
    (df.to_csv(path, index=False) if suffix == "csv" else df.to_parquet(path))
    back = F.read_choices(path)
    np.testing.assert_array_equal(back["choice1"].to_numpy(), df["choice1"].to_numpy())
    assert back.attrs["task"] == "two-step"


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("choice1", 2, r"subject 'a', row 1, column 'choice1': 2 is not one of \[0, 1\]"),
        ("choice2", 0.5, r"subject 'a', row 1, column 'choice2'"),
        ("state2", -1, r"subject 'a', row 1, column 'state2'"),
        ("reward", "lots", r"subject 'a', row 1, column 'reward': 'lots' is not a number"),
        ("trial", 1, r"subject 'a', row 1, column 'trial': duplicated trial 1 \(also at row 0\)"),
    ],
)
def test_validation_names_subject_row_column(column, value, pattern):
    df = _canon().astype({column: object})
    df.loc[1, column] = value
    with pytest.raises(ValueError, match=pattern):
        F.validate_two_step(df)


def test_missing_columns_and_required_values():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['state2'\]"):
        F.validate_two_step(_canon().drop(columns="state2"))
    df = _canon()
    df.loc[2, "state2"] = np.nan
    with pytest.raises(ValueError, match="subject 'a', row 2, column 'state2': missing"):
        F.validate_two_step(df)
    df = _canon()
    df.loc[3, "reward"] = np.nan
    with pytest.raises(ValueError, match="subject 'b', row 3, column 'reward': missing"):
        F.validate_two_step(df)
    with pytest.raises(ValueError, match="cannot tell the task"):
        F.to_transitions(pd.DataFrame({"x": [1]}))


def test_hbayesdm_bad_code(tmp_path):
    path = tmp_path / "ts.txt"
    path.write_text("subjID\tlevel1_choice\tlevel2_choice\treward\nA\t1\t5\t1\n")
    with pytest.raises(ValueError, match=r"subject 'A', row 1, column 'level2_choice': 5"):
        F.read_hbayesdm(path)


def test_transitions_layout_and_missing_choices():
    df = _canon()
    df.loc[1, "choice2"] = np.nan  # stage 2 missed: stage 1 kept
    df.loc[2, "choice1"] = np.nan  # trial skipped
    tr = F.to_transitions(df)
    assert tr.n_subjects == 2 and tr.n_states == 3 and tr.n_actions == 2
    assert list(tr.subjects) == ["a", "b"]
    assert tr.n_steps.tolist() == [4, 4]
    assert tr.state[0, :4].tolist() == [0, 1, 0, 1]
    assert tr.action[0, :4].tolist() == [0, 1, 1, -1]
    assert tr.next_state[0, :4].tolist() == [1, -1, 1, -1]
    assert tr.terminal[0, :4].tolist() == [False, True, False, True]
    assert tr.is_choice[0, :4].tolist() == [True, True, True, False]
    assert tr.n_choices.tolist() == [3, 4]
    # trials are ordered by trial number, whatever the row order
    shuffled = _canon().iloc[[2, 4, 0, 3, 1]]
    np.testing.assert_array_equal(F.to_transitions(shuffled).action, F.to_transitions(_canon()).action)


def test_bandit_format():
    df = pd.DataFrame(
        {
            "subject": [1, 1, 1, 2],
            "trial": [1, 2, 3, 1],
            "choice": [0, 2, np.nan, 1],
            "reward": [1, 0, np.nan, 1],
        }
    )
    tr = F.to_transitions(df)
    assert tr.task == "bandit" and tr.n_actions == 3 and tr.n_states == 1
    assert tr.n_choices.tolist() == [2, 1]
    bad = df.copy()
    bad.loc[1, "choice"] = -1
    with pytest.raises(ValueError, match="subject 1, row 1, column 'choice'"):
        F.to_transitions(bad)
    with pytest.raises(ValueError, match="needs two-step data"):
        F.negative_log_likelihood(
            df, "daw-hybrid", dict(alpha1=0.5, beta1=1, alpha2=0.5, beta2=1, pers=0, w=0.5, lam=0.5)
        )


# ----------------------------------------------------------------------------------------------
# item 7: bandit codes run 0..K-1 without gaps; at least two options


def _bandit(choices, subject="s1", **extra):
    n = len(choices)
    return pd.DataFrame(
        {"subject": subject, "trial": np.arange(1, n + 1), "choice": choices, "reward": np.ones(n), **extra}
    )


def test_bandit_code_gap_is_an_error_naming_subject_row_and_code():
    choices = [0, 1] * 8 + [0, 1000000, 1, 0]
    df = _bandit(choices)
    df.index = pd.RangeIndex(1, len(df) + 1)  # rows numbered as read from a file
    with pytest.raises(
        ValueError,
        match=r"choice 1000000 at subject 's1', row 18: codes must run 0..K-1 without gaps; "
        r"codes present: 0, 1, 1000000",
    ):
        F.to_transitions(df)
    with pytest.raises(ValueError, match="choice 1000000 at subject 's1', row 18"):
        F.negative_log_likelihood(df, "soft-q", dict(alpha=0.3, tau=0.2))


def test_bandit_gap_across_subjects_and_one_based_codes():
    df = pd.concat([_bandit([0, 1, 0], "a"), _bandit([3, 1], "b")], ignore_index=True)
    with pytest.raises(ValueError, match=r"choice 3 at subject 'b', row 3: .*codes present: 0, 1, 3"):
        F.to_transitions(df)
    with pytest.raises(
        ValueError, match=r"choice 1 at subject 's1', row 0: .*codes present: 1, 2 \(1-based codes\?"
    ):
        F.to_transitions(_bandit([1, 2, 2, 1]))


def test_bandit_needs_two_options():
    with pytest.raises(ValueError, match="every choice is 0.*at least two options"):
        F.to_transitions(_bandit([0, 0, 0]))
    with pytest.raises(ValueError, match="every choice is 0"):
        F.negative_log_likelihood(_bandit([0, 0, 0]), "soft-q", dict(alpha=0.3, tau=0.2))
    with pytest.raises(ValueError, match="no choice was made in any row"):
        F.to_transitions(_bandit([np.nan, np.nan]))
    with pytest.raises(ValueError, match="n_actions must be an integer >= 2, got 1"):
        F.to_transitions(_bandit([0, 0]), n_actions=1)


def test_bandit_explicit_number_of_options():
    df = _bandit([0, 2, 2, 0, 2], reward=[1.0, 0.0, 1.0, 0.0, 1.0])
    tr = F.to_transitions(df, n_actions=4)
    assert tr.n_actions == 4
    # a never-chosen option still takes probability: plain softmax-RW oracle over 4 options
    alpha, tau = 0.4, 0.5
    q, nll = np.zeros(4), 0.0
    for c, r in zip(df["choice"], df["reward"], strict=True):
        z = q / tau
        nll -= z[c] - np.log(np.exp(z).sum())
        q[c] += alpha * (r - q[c])
    got = F.negative_log_likelihood(tr, "soft-q", dict(alpha=alpha, tau=tau)).iloc[0]
    assert abs(got - nll) < 1e-12
    assert F.to_transitions(_bandit([0, 0]), n_actions=2).n_actions == 2
    with pytest.raises(
        ValueError, match=r"choice 4 at subject 's1', row 1: codes must run 0..3 \(n_actions=4\)"
    ):
        F.to_transitions(_bandit([0, 4, 1]), n_actions=4)


def test_bandit_state_codes_run_without_gaps():
    with pytest.raises(
        ValueError, match=r"state 7 at subject 's1', row 2: codes must run 0..K-1.*codes present: 0, 7"
    ):
        F.to_transitions(_bandit([0, 1, 1], state=[0, 0, 7]))
    assert F.to_transitions(_bandit([0, 1, 1], state=[0, 1, 1])).n_states == 2


def test_two_step_codes_are_fixed_by_the_format():
    # two options per stage by definition: a subject who only ever picks option 0 is valid data
    df = _canon().assign(choice1=0, choice2=0)
    assert F.to_transitions(df).n_actions == 2
    with pytest.raises(ValueError, match="n_actions=3: two-step data have two options per stage"):
        F.to_transitions(df, n_actions=3)
    for col, val in (("choice1", 1000000), ("state2", 2), ("choice2", 1.5)):
        bad = _canon().astype({col: float})
        bad.loc[3, col] = val
        with pytest.raises(
            ValueError, match=rf"subject 'b', row 3, column '{col}': .* is not one of \[0, 1\]"
        ):
            F.to_transitions(bad)
    one_based = _canon().assign(choice1=_canon()["choice1"] + 1)
    with pytest.raises(
        ValueError, match=r"row 1, column 'choice1': 2 is not one of \[0, 1\] or missing \(1-based"
    ):
        F.to_transitions(one_based)
    hb = pd.DataFrame(
        {"subjID": ["A", "A"], "level1_choice": [0, 1], "level2_choice": [1, 2], "reward": [1, 0]}
    )
    with pytest.raises(
        ValueError, match=r"subject 'A', row 0, column 'level1_choice': 0 is not one of \[1, 2\]"
    ):
        hbayesdm_to_canonical(hb)


def test_rows_with_more_fields_than_the_header(tmp_path):
    # pandas' default would make the first column an index and shift every value one column left
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("subject,trial,choice,reward\ns1,1,0,1,\ns1,2,1,0,\n")
    df = F.read_choices(trailing)
    assert df["subject"].tolist() == ["s1", "s1"] and df["reward"].tolist() == [1.0, 0.0]
    extra = tmp_path / "extra.csv"
    extra.write_text("subject,trial,choice,reward\ns1,1,0,1,8\ns1,2,1,0,\n")
    with pytest.raises(ValueError, match=r"extra.csv, row 1: more values than the header"):
        F.read_choices(extra)
    ragged = tmp_path / "ragged.csv"  # only some rows too long: pandas' own error, on one line
    ragged.write_text("subject,trial,choice,reward\ns1,1,0,1\ns1,2,1,0,7\n")
    with pytest.raises(ValueError, match=r"Expected 4 fields in line 3, saw 5$"):
        F.read_choices(ragged)


def test_packed_steps_hold_every_field():
    """``Transitions.steps`` (one int64 per step for the compiled replay) unpacks to the step arrays,
    missed choices and terminal steps included; too many states for a field is refused by name."""
    import dataclasses

    from dopasoft.fitting.softq import unpack_step

    tr = F.to_transitions(random_two_step(n_subjects=3, n_trials=40, seed=5, missing=0.2))
    assert (tr.action < 0).any() and tr.terminal.any() and (~tr.is_choice).any()
    for i in range(tr.n_subjects):
        for t in range(tr.n_steps[i]):
            s, a, ns, term, choice = unpack_step(tr.steps[i, t])
            want = (
                tr.state[i, t],
                tr.action[i, t],
                tr.next_state[i, t],
                tr.terminal[i, t],
                tr.is_choice[i, t],
            )
            assert (s, a, ns, term, choice) == want
    big = dataclasses.replace(tr, n_states=2**20 + 3)
    with pytest.raises(ValueError, match=r"n_states = 1048579"):
        big.steps  # noqa: B018 - the property raises

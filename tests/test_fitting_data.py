"""Choice-data layer: formats, validation messages, missing choices, Transitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fitting_oracles import random_two_step

import dopasoft.fitting as F


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
        F.log_likelihood(
            df, "daw-hybrid", dict(alpha1=0.5, beta1=1, alpha2=0.5, beta2=1, pers=0, w=0.5, lam=0.5)
        )

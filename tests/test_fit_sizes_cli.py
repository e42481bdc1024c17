"""``dopasoft fit/replay --n-actions/--n-states``: sizes of bandit and step data when not every code occurs,
recorded in the run manifest (a resume with other sizes is refused, naming them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F
from dopasoft.cli import main


@pytest.fixture
def bandit_file(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        (f"s{i}", t, int(rng.integers(2)), float(rng.random() < 0.5)) for i in range(3) for t in range(40)
    ]
    df = pd.DataFrame(rows, columns=["subject", "trial", "choice", "reward"])
    path = tmp_path / "bandit.csv"
    df.to_csv(path, index=False)
    return path, df


def test_n_actions_makes_a_three_armed_model_and_is_resumed_only_with_the_same(bandit_file, tmp_path, capsys):
    path, df = bandit_file
    out = tmp_path / "fits.csv"
    base = ["fit", str(path), "--model", "soft-q", "--n-starts", "1", "--out", str(out), "--quiet"]
    assert main(base + ["--n-actions", "3"]) == 0
    fits = pd.read_csv(out, dtype={"subject": str})
    nll3 = F.negative_log_likelihood(F.to_transitions(df, n_actions=3), "soft-q", fits)
    nll2 = F.negative_log_likelihood(F.to_transitions(df, n_actions=2), "soft-q", fits)
    np.testing.assert_allclose(fits.set_index("subject")["nll"][nll3.index], nll3, atol=1e-8)
    assert (nll3 > nll2 + 1).all()  # three options: each choice less probable than with two
    capsys.readouterr()
    assert main(base) == 2  # resumed without --n-actions: the sizes differ (2 inferred, not 3)
    err = capsys.readouterr().err
    assert "--n-actions 3, not --n-actions 2" in err and len(err.strip().splitlines()) == 1
    sig = tmp_path / "sig.csv"
    assert (
        main(["replay", str(path), "--fits", str(out), "--out", str(sig), "--n-actions", "3", "--quiet"]) == 0
    )


def test_a_gap_in_codes_names_the_command_line_option(tmp_path, capsys):
    df = pd.DataFrame({"subject": "a", "trial": [1, 2, 3], "choice": [0, 2, 0], "reward": [1.0, 0.0, 1.0]})
    path = tmp_path / "gap.csv"
    df.to_csv(path, index=False)
    rc = main(["fit", str(path), "--model", "soft-q", "--out", str(tmp_path / "f.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "--n-actions K" in err and "choice 2" in err
    rc = main(
        [
            "fit",
            str(path),
            "--model",
            "soft-q",
            "--out",
            str(tmp_path / "f.csv"),
            "--quiet",
            "--n-actions",
            "1",
        ]
    )
    assert rc == 2 and "n_actions" in capsys.readouterr().err

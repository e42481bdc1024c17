"""``dopasoft replay``: from a data file and a fits table (or --param values) to a signals CSV whose
-log p_choice sums to each subject's NLL; bad input exits 2 with one line naming the fault."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft.fitting as F
from dopasoft.cli import main

HY4 = {"alpha": 0.5, "beta": 4.0, "pers": 0.2, "w": 0.5}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("replay")
    df = F.simulate_choices("daw-hybrid-4", HY4, n_subjects=4, n_trials=60, seed=2)
    data = d / "data.csv"
    df.to_csv(data, index=False)
    fits = d / "fits.csv"
    assert (
        main(["fit", str(data), "--model", "daw-hybrid-4", "--n-starts", "1", "--out", str(fits), "--quiet"])
        == 0
    )
    return data, fits


def test_replay_from_a_fits_file_sums_to_its_nll(files, tmp_path):
    data, fits = files
    out = tmp_path / "signals.csv"
    assert main(["replay", str(data), "--fits", str(fits), "--out", str(out), "--quiet"]) == 0
    sig = pd.read_csv(out, dtype={"subject": str})
    assert list(sig.columns[:10]) == list(F.REPLAY_COLUMNS)
    table = pd.read_csv(fits, dtype={"subject": str}).set_index("subject")
    summed = -np.log(sig["p_choice"]).groupby(sig["subject"]).sum()
    np.testing.assert_allclose(summed[table.index], table["nll"], rtol=0, atol=1e-6)


def test_replay_with_param_values_equals_the_api(files, tmp_path):
    data, _ = files
    out = tmp_path / "s.csv"
    args = ["replay", str(data), "--model", "daw-hybrid-4", "--out", str(out), "--quiet"]
    assert main(args + [f"--param={k}={v}" for k, v in HY4.items()]) == 0
    got = pd.read_csv(out, dtype={"subject": str})
    ref = F.replay(pd.read_csv(data, dtype={"subject": str}), "daw-hybrid-4", HY4)
    np.testing.assert_allclose(got["delta"], ref["delta"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["p_choice"], ref["p_choice"], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "either as --fits"),
        (["--fits", "FITS", "--param", "alpha=0.1"], "either as --fits"),
        (["--model", "daw-hybrid-4", "--param", "alpha"], "--param expects NAME=VALUE"),
        (["--model", "daw-hybrid-4", "--param", "alpha=x"], "is not a number"),
        (["--model", "daw-hybrid-4", "--param", "alpha=0.5"], "missing parameter"),
        (["--param", "alpha=0.5"], "--param needs --model"),
        (
            ["--model", "daw-hybrid-4+kappa", "--param", "alpha=0.5"],
            "argument --model: model spec 'daw-hybrid-4+kappa': kappa applies to the soft Q models only",
        ),
        (
            ["--model", "daw-hybrid", "--fits", "FITS"],
            "was fitted with --model daw-hybrid-4, not --model daw-hybrid; give --model daw-hybrid-4",
        ),
        (["--out", "DATA", "--model", "daw-hybrid-4", "--param", "alpha=0.5"], "is the input file"),
    ],
)
def test_bad_replays_exit_2_with_one_line(files, tmp_path, capsys, extra, message):
    data, fits = files
    extra = [str(fits) if e == "FITS" else str(data) if e == "DATA" else e for e in extra]
    out = ["--out", str(tmp_path / "o.csv")] if "--out" not in extra else []
    usage = []
    try:
        rc = main(["replay", str(data), *extra, *out, "--quiet"])
    except SystemExit as stop:  # a bad option value: argparse's usage line, then one line of message
        rc, usage = stop.code, ["usage"]
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and message in lines[-1], lines
    if usage:  # argparse: the usage (may wrap), then one error line
        assert lines[0].startswith("usage: dopasoft replay") and lines[-1].startswith(
            "dopasoft replay: error:"
        )
    else:
        assert len(lines) == 1, lines
    assert pd.read_csv(data).shape[0] == 4 * 60  # the input is untouched

"""The command line with real lab files and real accidents (docs/reliability.md).

Five classes of input found by fuzzing, each checked against a plain oracle:

1. extra text columns (condition, session, notes): fitted, fingerprinted, carried into replay, never fatal;
   oracle: the same fits as the table without them, the data row's own values in each replay row;
2. contradictions (two disagreeing subject columns, an option giving one name two values): refused in one
   line naming both; oracle: a plain dict of the NAME=VALUE items;
3. the fits file as a ledger (torn rows, repeated rows): resume sets aside what is not a finished fit and
   refits it; oracle: the final file equals an uninterrupted run's, byte for byte;
4. two runs on one ``--out``: the second refuses at once; the lock goes with its process;
5. Ctrl-C anywhere, also inside compiled code: ``dopasoft <cmd>: interrupted``, exit 130, finished rows
   kept, and the resumed run's file equals an uninterrupted run's.

Hypothesis runs derandomized with a fixed example budget (the same examples on every run).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dopasoft.cli.fit as cli_fit
import dopasoft.fitting as F
from dopasoft.cli import interrupted, main
from dopasoft.cli.manifest import data_fingerprint
from dopasoft.cli.options import name_values
from dopasoft.cli.replay import with_data_columns
from dopasoft.experiments import simulate_two_step
from dopasoft.fitting.data import read_choices, write_hbayesdm

MODEL = "soft-q"
ROOT = Path(__file__).resolve().parents[1]

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _bandit(n_subjects: int, n_trials: int, seed: int) -> pd.DataFrame:
    model = F.get_model(MODEL)
    true = F.sample_parameters(model, n_subjects, np.random.default_rng(seed))
    df = F.simulate_choices(model, true, n_trials=n_trials, seed=seed, task="bandit")
    return df.assign(subject=[f"s{s}" for s in df["subject"]])


def _with_text(df: pd.DataFrame) -> pd.DataFrame:
    n = len(df)
    return df.assign(
        condition=np.where(np.arange(n) % 3 == 0, "reward", "punish"),
        session=[f"day {1 + i % 2}" for i in range(n)],
        notes=["" if i % 4 else 'looked away, "twice"' for i in range(n)],
    )


def _fit(data, out, *extra) -> list[str]:
    return ["fit", str(data), "--model", MODEL, "--n-starts", "2", "--out", str(out), "--quiet", *extra]


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"dopasoft {command}: error: "), err
    assert "\n" not in err and "Traceback" not in err and "np.float64" not in err, err
    return err


def _bytes(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ledger")
    plain = _bandit(4, 30, seed=1)
    plain.to_csv(d / "plain.csv", index=False)
    _with_text(plain).to_csv(d / "text.csv", index=False)
    _with_text(plain).to_parquet(d / "text.parquet", index=False)
    two = simulate_two_step(2, 25, seed=0)
    _with_text(two).to_csv(d / "two_text.csv", index=False)
    assert main(_fit(d / "plain.csv", d / "reference.csv")) == 0  # the oracle of every ledger test
    return d


# ------------------------------------------------------------------------------------------------
# 1. extra text columns


def test_extra_text_columns_are_fitted_resumed_and_fingerprinted(files, tmp_path, capsys):
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "text.csv", out)) == 0, capsys.readouterr().err
    # the likelihood ignores them: the same fits as the table without them
    assert _bytes(out) == _bytes(files / "reference.csv")
    assert main(_fit(files / "text.csv", out)) == 0  # resumes: same fingerprint
    assert _bytes(out) == _bytes(files / "reference.csv")
    # the same table as Parquet has the same fingerprint; the text is fingerprinted as it is
    text = read_choices(files / "text.csv")
    assert data_fingerprint(read_choices(files / "text.parquet")) == data_fingerprint(text)
    other = text.copy()
    other.loc[other.index[5], "condition"] = "neutral"
    assert data_fingerprint(other) != data_fingerprint(text)
    changed = pd.read_csv(files / "text.csv")
    changed.loc[5, "session"] = "day 9"
    changed.to_csv(tmp_path / "changed.csv", index=False)
    capsys.readouterr()
    assert main(_fit(tmp_path / "changed.csv", out)) == 2
    assert "whose content differs" in _one_line_error(capsys, "fit")


def test_extra_text_columns_through_replay_and_figures(files, tmp_path, capsys):
    fits = tmp_path / "fits.csv"
    assert main(_fit(files / "text.csv", fits)) == 0
    rep = tmp_path / "replay.csv"
    assert main(["replay", str(files / "text.csv"), "--fits", str(fits), "--out", str(rep), "--quiet"]) == 0
    table = pd.read_csv(rep, dtype={"subject": str}, keep_default_na=False)
    data = pd.read_csv(files / "text.csv", dtype={"subject": str}, keep_default_na=False)
    joined = table.merge(data, on=["subject", "trial"], suffixes=("", "_data"))
    assert len(joined) == len(table) == len(data)
    for col in ("condition", "session", "notes"):
        assert (joined[col] == joined[f"{col}_data"]).all(), col
    # two-step: both stages of a trial carry the trial's row; figures read the file as it is
    two_fits = tmp_path / "two.csv"
    two = files / "two_text.csv"
    assert (
        main(
            ["fit", str(two), "--model", "daw-hybrid-4", "--n-starts", "1", "--out", str(two_fits), "--quiet"]
        )
        == 0
    )
    rep2 = tmp_path / "replay2.csv"
    assert main(["replay", str(two), "--fits", str(two_fits), "--out", str(rep2), "--quiet"]) == 0
    t2 = pd.read_csv(rep2, keep_default_na=False)
    assert set(t2["stage"]) == {1, 2}
    assert (t2.groupby(["subject", "trial"])["condition"].nunique() == 1).all()
    figs = tmp_path / "figs"
    argv = ["figures", "--data", str(two), "--fits", str(two_fits), "--out", str(figs), "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err


# any printable text (a NUL byte makes a file binary, which the reader refuses by design)
text_cells = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
    st.sampled_from(["", "NA", "1,5", '"q"', "007", "x\ty"]),
)


@FUZZ
@given(
    names=st.lists(
        st.text("abcdefghij_ ", min_size=1, max_size=6).filter(lambda s: s.strip() == s),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_property_extra_columns_never_change_the_numbers_and_ride_along(names, seed, data):
    base = _bandit(2, 8, seed=seed % 7)
    names = [n for n in names if n not in base.columns and n != "state"] or ["extra"]
    values = {n: data.draw(st.lists(text_cells, min_size=len(base), max_size=len(base))) for n in names}
    table = base.assign(**values)
    params = {"alpha": 0.4, "tau": 0.5}
    nll = F.negative_log_likelihood(table, MODEL, params)
    assert np.array_equal(nll, F.negative_log_likelihood(base, MODEL, params))
    validated = read_choices_frame(table)
    assert isinstance(data_fingerprint(validated), str)
    # the same table through a CSV file: read, fingerprinted and fitted alike
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.csv")
        table.to_csv(path, index=False)
        from_file = read_choices(path)
        assert data_fingerprint(from_file).startswith("sha256:")
        assert np.array_equal(F.negative_log_likelihood(from_file, MODEL, params), nll)
    replayed = with_data_columns(F.replay(base, MODEL, params), validated)
    for n in names:  # oracle: the data row's own value
        want = {
            (str(s), int(t)): v for s, t, v in zip(table["subject"], table["trial"], table[n], strict=True)
        }
        got = [want[(str(s), int(t))] for s, t in zip(replayed["subject"], replayed["trial"], strict=True)]
        assert list(replayed[n]) == got


def read_choices_frame(df: pd.DataFrame) -> pd.DataFrame:
    from dopasoft.fitting.readers import validate_any

    return validate_any(df)


# ------------------------------------------------------------------------------------------------
# 2. contradictions


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fix", "alpha=0.3", "--fix", "alpha=0.6"], "option --fix gives alpha twice (0.3 and 0.6)"),
        (
            ["--bound", "tau=0.1:2", "--bound", "tau=0.1:3"],
            "option --bound gives tau twice (0.1:2 and 0.1:3)",
        ),
        (["--prior", "tau=0,1", "--prior", "tau=0,2"], "option --prior gives tau twice (0,1 and 0,2)"),
    ],
)
def test_an_option_giving_one_name_two_values_is_refused(files, tmp_path, capsys, argv, message):
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "plain.csv", out, *argv)) == 2
    assert _one_line_error(capsys, "fit").endswith(message)
    assert not out.exists()


def test_replay_and_simulate_param_twice_and_model_spec_option_twice(files, tmp_path, capsys):
    argv = ["replay", str(files / "plain.csv"), "--model", MODEL, "--out", str(tmp_path / "r.csv")]
    assert main([*argv, "--param", "alpha=0.3", "--param", "alpha=0.6", "--param", "tau=1"]) == 2
    assert _one_line_error(capsys, "replay").endswith("option --param gives alpha twice (0.3 and 0.6)")
    assert main([*argv, "--param", "alpha=0.3", "--param", "alpha=0.30", "--param", "tau=1", "--quiet"]) == 0
    sim = ["simulate", "two-step", "--model", "soft-q-lambda", "--n-subjects", "2", "--n-trials", "5"]
    assert main([*sim, "--param", "alpha=0.3", "--param", "alpha=0.6", "--out", str(tmp_path / "s.csv")]) == 2
    assert _one_line_error(capsys, "simulate").endswith("option --param gives alpha twice (0.3 and 0.6)")
    assert not (tmp_path / "s.csv").exists()
    with pytest.raises(ValueError, match=r"gives trans_prob twice \(0.8 and 0.7\)"):
        F.get_model("daw-hybrid+trans_prob=0.8+trans_prob=0.7")


def test_the_same_value_twice_is_accepted(files, tmp_path):
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "plain.csv", out, "--fix", "alpha=0.3", "--fix", "alpha=0.30")) == 0
    assert (pd.read_csv(out)["alpha"] == 0.3).all()


items = st.lists(
    st.tuples(st.sampled_from(["alpha", "tau", "lam"]), st.sampled_from(["0.3", "0.30", "0.6", "1e-1", "2"])),
    max_size=6,
)


@FUZZ
@given(items=items)
def test_property_name_values_against_a_dict(items):
    oracle: dict[str, set[float]] = {}
    for name, text in items:
        oracle.setdefault(name, set()).add(float(text))
    argv = [f"{n}={v}" for n, v in items]
    clash = [n for n, vs in oracle.items() if len(vs) > 1]
    if clash:
        with pytest.raises(ValueError, match=r"^option --fix gives (\w+) twice \((\S+) and (\S+)\)$") as err:
            name_values(argv, "--fix", "NAME=VALUE", float)
        name, a, b = re.match(r"option --fix gives (\w+) twice \((\S+) and (\S+)\)", str(err.value)).groups()
        assert name in clash and float(a) != float(b)
    else:
        assert name_values(argv, "--fix", "NAME=VALUE", float) == {n: vs.pop() for n, vs in oracle.items()}


def test_two_disagreeing_subject_columns_are_refused(files, tmp_path, capsys):
    df = pd.read_csv(files / "plain.csv", dtype={"subject": str})
    agree = df.assign(subjID=df["subject"])
    agree.to_csv(tmp_path / "agree.csv", index=False)
    out = tmp_path / "agree_fits.csv"
    assert main(_fit(tmp_path / "agree.csv", out)) == 0  # they agree: accepted, same fits
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(files / "reference.csv"))
    disagree = agree.copy()
    disagree.loc[6, "subjID"] = "s9"
    disagree.to_csv(tmp_path / "disagree.csv", index=False)
    assert main(_fit(tmp_path / "disagree.csv", tmp_path / "x.csv")) == 2
    err = _one_line_error(capsys, "fit")
    assert "row 7" in err and "'subject' ('ssub000')" in err and "'subjID' ('s9')" in err
    with pytest.raises(ValueError, match="'subject'.*'subjID'.*disagree"):
        F.negative_log_likelihood(disagree, MODEL, {"alpha": 0.3, "tau": 0.5})
    # an hBayesDM file with a second, disagreeing subject column
    two = simulate_two_step(2, 5, seed=0)
    write_hbayesdm(two, tmp_path / "ts.txt")
    t = pd.read_csv(tmp_path / "ts.txt", sep="\t", dtype={"subjID": str})
    t.assign(subject=["z"] * len(t)).to_csv(tmp_path / "ts2.txt", sep="\t", index=False)
    assert main(_fit(tmp_path / "ts2.txt", tmp_path / "y.csv")) == 2
    assert "disagree" in _one_line_error(capsys, "fit")


# ------------------------------------------------------------------------------------------------
# 3. the fits file as a ledger


def _lines(path) -> list[str]:
    return _bytes(path).decode().splitlines(keepends=True)


def _field(line: str, header: list[str], col: str, value: str) -> str:
    fields = next(csv.reader([line]))
    fields[header.index(col)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def _resume_equals_reference(files, out, capsys) -> str:
    capsys.readouterr()
    assert main(_fit(files / "plain.csv", out, "--chunk-size", "3")) == 0
    assert _bytes(out) == _bytes(files / "reference.csv")
    return capsys.readouterr().err


def _prepared(files, tmp_path) -> tuple[Path, list[str], list[str]]:
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "plain.csv", out)) == 0
    lines = _lines(out)
    return out, lines, next(csv.reader([lines[0]]))


def test_torn_row_in_the_middle_is_set_aside_and_refitted(files, tmp_path, capsys):
    out, lines, header = _prepared(files, tmp_path)
    torn = _field(_field(lines[2], header, "tau", "-"), header, "nll", "")
    out.write_text("".join([lines[0], lines[1], torn, *lines[3:]]))
    err = _resume_equals_reference(files, out, capsys)
    assert "set aside 1 row(s) that are not finished fits (first: line 3, column 'tau' is '-')" in err
    assert "1 subject(s) are fitted again" in err
    assert _lines(cli_fit.rejected_path(out)) == [lines[0], torn]
    # a row cut short in the middle of the file (fewer fields)
    out.write_text("".join([lines[0], lines[1][:17] + "\n", *lines[2:]]))
    err = _resume_equals_reference(files, out, capsys)
    assert "line 2, " in err and "fields, the header has" in err


def test_repeated_rows_collapse_or_are_refitted(files, tmp_path, capsys):
    out, lines, header = _prepared(files, tmp_path)
    out.write_text("".join([*lines, lines[2], lines[2]]))
    err = _resume_equals_reference(files, out, capsys)
    assert "dropped 2 repeated identical row(s)" in err and "set aside" not in err
    other = _field(lines[3], header, "alpha", "0.5")  # a second, complete fit of the same subject
    out.write_text("".join([*lines, other]))
    err = _resume_equals_reference(files, out, capsys)
    assert "set aside 2 row(s)" in err and "written 2 times with different values" in err
    # an nll that aic and bic do not follow from (a row glued from two writes, an edit)
    out.write_text("".join([lines[0], _field(lines[1], header, "nll", "99.5"), *lines[2:]]))
    err = _resume_equals_reference(files, out, capsys)
    assert "column 'aic'" in err and "does not follow from nll 99.5" in err


junk = st.sampled_from(["-", "", "nan", "inf", "-inf", "x", "1e999", "NA"])


@st.composite
def damaged_files(draw):
    """A list of edits of a finished fits file: tear a row, put junk in a number, repeat or drop a row."""
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["tear", "junk", "repeat", "repeat-changed", "drop"]),
                st.integers(0, 3),  # which subject's row
                st.integers(1, 200),  # where to tear
                st.sampled_from(
                    ["alpha", "tau", "nll", "nlp", "aic", "bic", "n_choices", "converged", "model"]
                ),
                junk,
            ),
            min_size=1,
            max_size=4,
        )
    )
    return edits


@FUZZ
@given(edits=damaged_files())
def test_property_any_damaged_fits_file_resumes_to_the_uninterrupted_file(files, edits):
    reference = _bytes(files / "reference.csv")
    lines = reference.decode().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    rows = lines[1:]
    for op, k, cut, col, value in edits:
        k %= len(rows)
        if op == "tear":
            rows[k] = rows[k][: min(cut, len(rows[k]) - 2)] + "\n"
        elif op == "junk":
            rows[k] = (
                _field(rows[k], header, col, value)
                if len(next(csv.reader([rows[k]]))) == len(header)
                else rows[k]
            )
        elif op == "repeat":
            rows.append(rows[k])
        elif op == "repeat-changed" and len(next(csv.reader([rows[k]]))) == len(header):
            rows.append(_field(rows[k], header, "nll", "12.25"))
        elif op == "drop" and len(rows) > 1:
            del rows[k]
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "fits.csv"
        out.write_bytes(reference)
        (Path(d) / "fits.csv.manifest.json").write_bytes(_bytes(files / "reference.csv.manifest.json"))
        out.write_text(lines[0] + "".join(rows))
        argv = _fit(files / "plain.csv", out)
        assert main(argv) == 0
        assert _bytes(out) == reference  # the oracle: the uninterrupted run's file


# ------------------------------------------------------------------------------------------------
# 4. two runs on one --out


def test_a_held_lock_refuses_at_once_and_a_stale_one_does_not_block(files, tmp_path, capsys):
    out = tmp_path / "fits.csv"
    lock = Path(cli_fit.lock_path(out))
    with open(lock, "w") as fh:
        fh.write("4242\n")
        fh.flush()
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        started = time.perf_counter()
        assert main(_fit(files / "plain.csv", out)) == 2
        assert time.perf_counter() - started < 5
        err = _one_line_error(capsys, "fit")
        assert err.endswith(
            f"another dopasoft fit (PID 4242) is writing {out}; wait for it to finish, or give another --out"
        )
        assert not out.exists()
    # the holder is gone (its lock went with it); the file with its dead PID does not block
    assert main(_fit(files / "plain.csv", out)) == 0
    assert _bytes(out) == _bytes(files / "reference.csv")


def _subprocess_env(**extra) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", **extra)
    return env


def _dopasoft(*argv, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dopasoft", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=kw.pop("env", None) or _subprocess_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
        **kw,
    )


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A cohort whose fit takes several seconds, and its uninterrupted fits file."""
    d = tmp_path_factory.mktemp("cohort")
    simulate_two_step(120, 200, seed=0).to_csv(d / "cohort.csv", index=False)
    ref = d / "reference.csv"
    p = _dopasoft("fit", str(d / "cohort.csv"), *COHORT_OPTIONS, "--out", str(ref), "--quiet")
    assert p.wait(timeout=600) == 0, p.stderr.read().decode()
    return d


COHORT_OPTIONS = ("--model", "soft-q-lambda", "--n-starts", "10", "--chunk-size", "2")


def test_two_concurrent_runs_on_one_out(cohort, tmp_path):
    out = tmp_path / "fits.csv"
    argv = ("fit", str(cohort / "cohort.csv"), *COHORT_OPTIONS, "--out", str(out), "--quiet")
    first = _dopasoft(*argv)
    lock = Path(cli_fit.lock_path(out))
    deadline = time.time() + 120
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)) and time.time() < deadline:
        time.sleep(0.05)
    second = _dopasoft(*argv)
    assert second.wait(timeout=120) == 2
    still_running = first.poll() is None
    err = second.stderr.read().decode().strip()
    assert err == f"dopasoft fit: error: another dopasoft fit (PID {first.pid}) is writing {out}; " + (
        "wait for it to finish, or give another --out"
    )
    assert still_running, "the first run ended before the second was refused; use a bigger cohort"
    assert first.wait(timeout=600) == 0, first.stderr.read().decode()
    assert _bytes(out) == _bytes(cohort / "reference.csv")  # every subject once, one header
    # two started at the same moment: exactly one writes, the file is the same
    out2 = tmp_path / "fits2.csv"
    argv2 = ("fit", str(cohort / "cohort.csv"), *COHORT_OPTIONS, "--out", str(out2), "--quiet")
    a, b = _dopasoft(*argv2), _dopasoft(*argv2)
    codes = sorted([a.wait(timeout=600), b.wait(timeout=600)])
    assert codes == [0, 2], codes
    assert _bytes(out2) == _bytes(cohort / "reference.csv")


# ------------------------------------------------------------------------------------------------
# 5. Ctrl-C anywhere


def test_interrupted_recognises_a_system_error_from_compiled_code():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("CPUDispatcher(<function f>) returned a result with an exception set")  # noqa: B904
    except SystemError as err:
        assert interrupted(err)
    assert not interrupted(SystemError("something else"))
    assert not interrupted(ValueError("x"))


def test_system_error_from_an_interrupt_ends_as_interrupted(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "fits.csv"
    real = cli_fit.iter_fit

    def interrupted_in_compiled_code(*args, **kw):
        for k, chunk in enumerate(real(*args, **kw)):
            yield chunk
            if k == 0:
                try:
                    raise KeyboardInterrupt
                except KeyboardInterrupt:
                    raise SystemError("CPUDispatcher(...) returned a result with an exception set")  # noqa: B904

    monkeypatch.setattr(cli_fit, "iter_fit", interrupted_in_compiled_code)
    assert main(_fit(files / "plain.csv", out, "--chunk-size", "1")) == 130
    assert capsys.readouterr().err.strip() == "dopasoft fit: interrupted"
    assert len(pd.read_csv(out)) == 1  # the finished row stays
    monkeypatch.setattr(cli_fit, "iter_fit", real)
    assert main(_fit(files / "plain.csv", out)) == 0
    assert _bytes(out) == _bytes(files / "reference.csv")


class _Stderr:
    """Collects a subprocess's stderr in a thread (the progress bar writes without newlines)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.text = b""
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc) -> None:
        while chunk := proc.stderr.read1(4096):
            self.text += chunk

    def wait_for(self, what: bytes, timeout: float) -> bool:
        deadline = time.time() + timeout
        while what not in self.text and time.time() < deadline:
            time.sleep(0.02)
        return what in self.text


def _interrupt(proc: subprocess.Popen, stderr: _Stderr) -> str:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, stderr.text.decode()
    stderr.thread.join(10)
    text = stderr.text.decode()
    assert "Traceback" not in text and "SystemError" not in text, text
    assert text.rstrip().endswith("dopasoft fit: interrupted"), text
    return text


def _rows(path) -> int:
    return max(0, len(_lines(path)) - 1) if Path(path).exists() else 0


def test_sigint_during_compile_and_fitting_then_resume_is_byte_identical(cohort, tmp_path):
    out = tmp_path / "fits.csv"
    argv = ("fit", str(cohort / "cohort.csv"), *COHORT_OPTIONS, "--out", str(out))
    env = _subprocess_env(NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))  # nothing compiled yet
    # during the first compilation
    p = _dopasoft(*argv, env=env)
    err = _Stderr(p)
    assert err.wait_for(b"compiling the likelihood", 120), err.text.decode()
    time.sleep(1.0)
    _interrupt(p, err)
    assert _rows(out) == 0
    # during fitting, several times, at different moments (the compiled likelihood runs on threads)
    for k, wait in enumerate((0.0, 0.3, 1.1)):
        before = _rows(out)
        p = _dopasoft(*argv, env=env)
        err = _Stderr(p)
        deadline = time.time() + 300
        while _rows(out) <= before and time.time() < deadline and p.poll() is None:
            time.sleep(0.01)
        time.sleep(wait)
        assert p.poll() is None, f"round {k}: the fit ended before the interrupt; use a bigger cohort"
        _interrupt(p, err)
        after = _rows(out)
        assert before < after < 120
        kept = pd.read_csv(out, dtype={"subject": str})
        assert kept["subject"].is_unique and kept["nll"].notna().all()
    # resume: the same file as the uninterrupted run
    p = _dopasoft(*argv, "--quiet", env=env)
    assert p.wait(timeout=600) == 0, p.stderr.read().decode()
    assert _bytes(out) == _bytes(cohort / "reference.csv")

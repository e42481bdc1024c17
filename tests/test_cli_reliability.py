"""Resume manifest of ``dopasoft fit`` and bad files / options on the command line (docs/reliability.md).

Every bad input must give exit 2 and ONE line ``dopasoft <command>: error: ...`` naming the file or
option at fault, leave inputs untouched, and never report a number computed from other data or options.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import tempfile

import numpy as np
import pandas as pd
import pytest

import dopasoft.cli.fit as cli_fit
import dopasoft.fitting as F
from dopasoft import _memory
from dopasoft.cli import main
from dopasoft.cli.manifest import data_fingerprint, manifest_path
from dopasoft.experiments import simulate_two_step
from dopasoft.fitting.data import read_choices

MODEL = "soft-q"


def _bandit(n_subjects: int, n_trials: int, seed: int, prefix: str = "s") -> pd.DataFrame:
    model = F.get_model(MODEL)
    true = F.sample_parameters(model, n_subjects, np.random.default_rng(seed))
    df = F.simulate_choices(model, true, n_trials=n_trials, seed=seed, task="bandit")
    return df.assign(subject=[f"{prefix}{s}" for s in df["subject"]])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    big = _bandit(5, 40, seed=1)
    small = _bandit(3, 20, seed=2)
    big.to_csv(d / "big.csv", index=False)
    big.to_csv(d / "big.tsv", index=False, sep="\t")
    big.to_parquet(d / "big.parquet", index=False)
    small.to_csv(d / "small.csv", index=False)
    simulate_two_step(2, 20, seed=0).to_csv(d / "two_step.csv", index=False)
    big[big["subject"].isin(big["subject"].unique()[:2])].to_csv(d / "subset.csv", index=False)
    return d


def _fit(data, out, *extra) -> list[str]:
    return ["fit", str(data), "--model", MODEL, "--n-starts", "2", "--out", str(out), "--quiet", *extra]


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"dopasoft {command}: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


def _bytes(path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# ------------------------------------------------------------------------------------------------
# run manifest and resume


def test_fit_writes_manifest_with_everything_that_changes_numbers(files, tmp_path):
    out = tmp_path / "fits.csv"
    argv = _fit(
        files / "big.csv",
        out,
        "--seed",
        "4",
        "--fix",
        "tau=2",
        "--bound",
        "alpha=0.05:0.95",
        "--prior",
        "alpha=0,1.5",
    )
    assert main(argv) == 0
    m = json.loads(manifest_path(out).read_text())
    assert m["model"] == MODEL and m["n_starts"] == 2 and m["seed"] == 4
    assert m["fixed"] == {"tau": 2.0}
    assert m["bounds"] == {"alpha": [0.05, 0.95]}
    assert m["prior"] == {"alpha": [0.0, 1.5]}
    assert m["dopasoft_version"] == __import__("dopasoft").__version__
    assert m["data"] == data_fingerprint(read_choices(files / "big.csv"))
    assert "chunk_size" not in m  # does not change the numbers


def test_fingerprint_is_of_content_not_file_bytes(files, tmp_path):
    csv, tsv, pq = (read_choices(files / f"big.{s}") for s in ("csv", "tsv", "parquet"))
    assert data_fingerprint(csv) == data_fingerprint(tsv) == data_fingerprint(pq)
    # one reward or one subject identifier changed: another fingerprint
    raw = pd.read_csv(files / "big.csv", dtype={"subject": str})
    changed = raw.copy()
    changed.loc[7, "reward"] = 1 - changed.loc[7, "reward"]
    renamed = raw.replace({"subject": {raw["subject"].iloc[0]: "other"}})
    for other in (changed, renamed):
        other.to_csv(tmp_path / "x.csv", index=False)
        assert data_fingerprint(read_choices(tmp_path / "x.csv")) != data_fingerprint(csv)
    # the fingerprint is a SHA-256 (64 hex digits) of text, not of the file's bytes
    digest = data_fingerprint(csv).removeprefix("sha256:")
    assert len(digest) == 64 and digest != hashlib.sha256(_bytes(files / "big.csv")).hexdigest()


def test_same_data_as_parquet_resumes(files, tmp_path, capsys):
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "big.csv", out)) == 0
    before = _bytes(out)
    assert main(_fit(files / "big.parquet", out)) == 0
    assert "resuming: 5 subject(s)" in capsys.readouterr().err
    assert _bytes(out) == before


@pytest.mark.parametrize(
    "extra, expect",
    [
        (["--n-starts", "3"], "--n-starts 2, not --n-starts 3"),
        (["--seed", "1"], "--seed 0, not --seed 1"),
        (["--fix", "tau=1"], "no --fix, not --fix tau=1"),
        (["--bound", "alpha=0.1:0.9"], "no --bound, not --bound alpha=0.1:0.9"),
        (
            ["--prior", "alpha=0,1"],
            "no --prior (the default weak prior on temperatures), not --prior alpha=0,1",
        ),
        (["--ml"], "no --prior (the default weak prior on temperatures), not --ml (no prior)"),
        (["--model", "soft-q-lambda"], "--model soft-q, not --model soft-q-lambda"),
    ],
)
def test_resume_with_other_options_is_refused(files, tmp_path, capsys, extra, expect):
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "big.csv", out)) == 0
    before = _bytes(out)
    argv = _fit(files / "big.csv", out)
    if extra[0] == "--n-starts":
        argv[argv.index("--n-starts") + 1] = extra[1]
    elif extra[0] == "--model":
        argv[argv.index("--model") + 1] = extra[1]
    else:
        argv += extra
    capsys.readouterr()
    assert main(argv) == 2
    err = _one_line_error(capsys, "fit")
    assert expect in err and "--overwrite" in err
    assert _bytes(out) == before


def test_resume_with_other_data_is_refused_and_overwrite_starts_afresh(files, tmp_path, capsys):
    # issue 8.1: a 3-subject data set was answered with the fits of another cohort
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "big.csv", out)) == 0
    before = _bytes(out)
    capsys.readouterr()
    assert main(_fit(files / "small.csv", out)) == 2
    err = _one_line_error(capsys, "fit")
    assert "big.csv (5 subjects, 200 rows), not" in err and "small.csv (3 subjects, 60 rows)" in err
    assert _bytes(out) == before
    assert main(_fit(files / "small.csv", out, "--overwrite")) == 0
    res = pd.read_csv(out, dtype={"subject": str})
    small = read_choices(files / "small.csv")
    assert list(res["subject"]) == list(pd.unique(small["subject"]))
    ref = F.fit(small, MODEL, n_starts=2)
    np.testing.assert_allclose(res["nll"], ref.params["nll"])
    assert json.loads(manifest_path(out).read_text())["data"] == data_fingerprint(small)


def test_subset_into_full_fits_file_keeps_every_row(files, tmp_path, capsys):
    # issue 8.2: fitting a 2-subject subset into a 5-subject file left 2 rows
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "big.csv", out)) == 0
    before = _bytes(out)
    assert main(_fit(files / "subset.csv", out)) == 2
    assert _bytes(out) == before and len(pd.read_csv(out)) == 5


def test_final_rewrite_keeps_rows_not_in_the_data(files, tmp_path):
    out = tmp_path / "fits.csv"
    argv = _fit(files / "big.csv", out)
    assert main(argv) == 0
    res = pd.read_csv(out, dtype={"subject": str})
    extra = res.iloc[[0]].assign(subject="zzz-not-in-data")
    with open(out, "a") as fh:
        fh.write(extra.to_csv(index=False, header=False))
    assert main(argv) == 0
    after = pd.read_csv(out, dtype={"subject": str})
    assert len(after) == 6 and after["subject"].iloc[-1] == "zzz-not-in-data"


def test_fits_file_without_manifest_is_refused_unless_overwrite(files, tmp_path, capsys):
    out = tmp_path / "fits.csv"
    assert main(_fit(files / "big.csv", out)) == 0
    manifest_path(out).unlink()  # as written by an older dopasoft
    before = _bytes(out)
    capsys.readouterr()
    assert main(_fit(files / "big.csv", out)) == 2
    assert "no run manifest" in _one_line_error(capsys, "fit")
    assert _bytes(out) == before
    assert main(_fit(files / "big.csv", out, "--overwrite")) == 0
    assert manifest_path(out).exists()


def test_resume_with_another_chunk_size_is_byte_identical(files, tmp_path, monkeypatch):
    whole = tmp_path / "whole.csv"
    assert main(_fit(files / "big.csv", whole, "--chunk-size", "5")) == 0
    out = tmp_path / "fits.csv"
    real = cli_fit.iter_fit

    def interrupted(*args, **kw):
        for k, chunk in enumerate(real(*args, **kw)):
            yield chunk
            if k == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(cli_fit, "iter_fit", interrupted)
    assert main(_fit(files / "big.csv", out, "--chunk-size", "1")) == 130
    assert len(pd.read_csv(out)) == 2
    monkeypatch.setattr(cli_fit, "iter_fit", real)
    assert main(_fit(files / "big.csv", out, "--chunk-size", "2")) == 0
    assert _bytes(out) == _bytes(whole)


def test_subject_ids_na_and_none_are_kept_and_resume(tmp_path, capsys):
    df = _bandit(2, 20, seed=3)
    ids = {s: new for s, new in zip(pd.unique(df["subject"]), ("NA", "None"), strict=True)}
    df["subject"] = df["subject"].map(ids)
    path = tmp_path / "na.csv"
    df.to_csv(path, index=False)
    data = read_choices(path)
    assert list(pd.unique(data["subject"])) == ["NA", "None"]
    out = tmp_path / "fits.csv"
    assert main(_fit(path, out)) == 0
    lines = out.read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == ["NA", "None"]
    before = _bytes(out)
    capsys.readouterr()
    assert main(_fit(path, out)) == 0  # resumes: both subjects recognised as finished
    assert "resuming: 2 subject(s)" in capsys.readouterr().err
    assert _bytes(out) == before


# ------------------------------------------------------------------------------------------------
# --out problems


def test_out_equal_to_the_data_is_refused(files, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_bytes(_bytes(files / "big.csv"))
    before = _bytes(data)
    link = tmp_path / "link.csv"
    os.link(data, link)  # same inode, another name
    for out in (data, tmp_path / "." / "data.csv", link):
        capsys.readouterr()
        assert main(_fit(data, out)) == 2
        assert "is the input file" in _one_line_error(capsys, "fit")
        assert _bytes(data) == before
    assert main(_fit(data, data, "--overwrite")) == 2
    assert _bytes(data) == before


def test_out_that_is_not_a_fits_file_is_left_untouched(files, tmp_path, capsys):
    other = tmp_path / "notes.csv"
    other.write_text("name,value\nsomething,1\n")
    for extra in ([], ["--overwrite"]):
        capsys.readouterr()
        assert main(_fit(files / "big.csv", other, *extra)) == 2
        assert "not a dopasoft fits file" in _one_line_error(capsys, "fit")
        assert other.read_text() == "name,value\nsomething,1\n"


def _writers(tmp_path, data):
    """(command, argv without --out, kind of --out) for every command that writes output."""
    return [
        ("fit", ["fit", str(data), "--model", MODEL, "--n-starts", "1", "--quiet"], "file"),
        ("simulate", ["simulate", "two-step", "--n-subjects", "2", "--n-trials", "5"], "file"),
        ("simulate", ["simulate", "conditioning", "--protocol", "acquisition"], "file"),
        ("figures", ["figures", str(data.with_name("two_step.csv"))], "folder"),
        (
            "recover",
            ["recover", "--model", MODEL, "--n-subjects", "2", "--n-trials", "5", "--task", "bandit"],
            "folder",
        ),
        ("demo", ["demo", "--quick"], "folder"),
    ]


def test_out_of_the_wrong_kind_is_refused_by_every_command(files, tmp_path, capsys):
    a_file = tmp_path / "exists.csv"
    a_file.write_text("x\n1\n")
    for command, argv, kind in _writers(tmp_path, files / "big.csv"):
        target = tmp_path if kind == "file" else a_file
        capsys.readouterr()
        assert main([*argv, "--out", str(target)]) == 2, command
        err = _one_line_error(capsys, command)
        assert f"--out {target}" in err and ("is a folder" if kind == "file" else "is a file") in err


def test_missing_output_folders_are_created(files, tmp_path):
    for i, (command, argv, kind) in enumerate(_writers(tmp_path, files / "big.csv")):
        if command in ("recover", "demo"):
            continue  # same helper (dopasoft.cli.outputs); too slow to run to the end here
        out = tmp_path / f"new{i}" / "deeper" / ("out.csv" if kind == "file" else "figs")
        assert main([*argv, "--out", str(out)]) == 0, command
        assert out.exists()


def test_unwritable_output_folder(files, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root ignores mode bits: refuse the write as the OS would otherwise
        real = tempfile.mkstemp

        def refuse(*args, dir=None, **kw):
            if dir is not None and os.fspath(dir).startswith(os.fspath(locked)):
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kw)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    try:
        for command, argv, kind in _writers(tmp_path, files / "big.csv"):
            out = locked / ("out.csv" if kind == "file" else "figs")
            capsys.readouterr()
            assert main([*argv, "--out", str(out)]) == 2, command
            err = _one_line_error(capsys, command)
            assert f"--out {out}" in err and ("Permission denied" in err or "Read-only" in err), err
    finally:
        locked.chmod(0o700)


# ------------------------------------------------------------------------------------------------
# bad data files


def _bad_files(tmp_path):
    made = {}
    (tmp_path / "folder.csv").mkdir()
    made["folder"] = (tmp_path / "folder.csv", "is a folder")
    xlsx = tmp_path / "book.xlsx"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200))
    made["xlsx"] = (xlsx, "save it as CSV")
    disguised = tmp_path / "book.csv"  # an Excel workbook renamed .csv: found by its first bytes
    disguised.write_bytes(_bytes(xlsx))
    made["xlsx-as-csv"] = (disguised, "Excel")
    xls = tmp_path / "old.csv"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200))
    made["xls-as-csv"] = (xls, "Excel 97-2003")
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"subject,trial\x00\x01\x02\xff\xfe" * 10)
    made["binary"] = (binary, "binary")
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("subject,trial,choice,reward\ns1,1,0,1\n", encoding="utf-16")
    made["utf16"] = (utf16, "UTF-16")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    made["empty"] = (empty, "is empty")
    header = tmp_path / "header.csv"
    header.write_text("subject,trial,choice,reward\n")
    made["header-only"] = (header, "has a header but no data rows")
    return made


@pytest.mark.parametrize("command", ["fit", "figures"])
def test_bad_data_files_give_one_line(tmp_path, capsys, command):
    out = tmp_path / "out" / ("fits.csv" if command == "fit" else "figs")
    for name, (path, expect) in _bad_files(tmp_path).items():
        argv = _fit(path, out) if command == "fit" else ["figures", str(path), "--out", str(out)]
        capsys.readouterr()
        assert main(argv) == 2, name
        err = _one_line_error(capsys, command)
        assert str(path) in err and expect in err, (name, err)
        assert str(out) not in err, (name, err)  # header-only data must not blame the output
    assert not (tmp_path / "out" / "fits.csv").exists()


def test_bad_data_files_through_the_python_api(tmp_path):
    for path, expect in _bad_files(tmp_path).values():
        with pytest.raises((ValueError, OSError), match=expect):
            read_choices(path)


def test_unreadable_data_file(files, tmp_path, capsys, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_bytes(_bytes(files / "big.csv"))
    path.chmod(0o000)
    if os.access(path, os.R_OK):  # root reads anything: refuse the open as the OS would otherwise
        real_open = builtins.open

        def refuse(file, *args, **kw):
            if isinstance(file, str | os.PathLike) and os.fspath(file) == os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kw)

        monkeypatch.setattr(builtins, "open", refuse)
    try:
        assert main(_fit(path, tmp_path / "fits.csv")) == 2
        err = _one_line_error(capsys, "fit")
        assert f"data file {path} cannot be read (permission denied)" in err
    finally:
        monkeypatch.undo()
        path.chmod(0o600)


# ------------------------------------------------------------------------------------------------
# memory estimates


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "{data}", "--model", MODEL, "--n-starts", "100000000", "--out", "{tmp}/f.csv"],
        [
            "recover",
            "--model",
            MODEL,
            "--n-subjects",
            "3",
            "--n-starts",
            "100000000",
            "--task",
            "bandit",
            "--out",
            "{tmp}/r",
        ],
        ["demo", "--quick", "--n-starts", "100000000", "--out", "{tmp}/d"],
    ],
)
def test_huge_n_starts_is_refused_with_the_estimate(files, tmp_path, capsys, argv):
    argv = [a.format(data=files / "big.csv", tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = _one_line_error(capsys, argv[0])
    assert "--n-starts 100000000" in err and "would need about" in err and "PB of memory" in err
    assert not (tmp_path / "f.csv").exists()


def test_memory_estimate_refuses_only_beyond_available(monkeypatch):
    # ordinary runs pass on this machine; a small machine refuses, naming the estimate
    cli_fit.check_fit_memory(200, 20, 50, 5, 5)
    need = cli_fit.fit_memory_bytes(20, 50, 5, 5)
    # hand-worked: 1000 problems x (8 x (5*25 + 15*5 + 4*5 + 15) + 100) + 20 x 50^2 x (16*5 + 12)
    assert need == 1000 * (8 * 235 + 100) + 20 * 2500 * 92
    monkeypatch.setattr(_memory, "available_bytes", lambda: int(need) - 1)
    with pytest.raises(ValueError, match=r"--n-starts 50 \(20 subjects per batch x 50 starts x 5 free"):
        cli_fit.check_fit_memory(200, 20, 50, 5, 5)
    monkeypatch.setattr(_memory, "available_bytes", lambda: None)  # unknown: never refuse
    cli_fit.check_fit_memory(200, 20, 10**9, 5, 5)


@pytest.mark.parametrize(
    "options",
    [["--isi", "1e6"], ["--dt", "1e-6"], ["--isi", "1e6", "--representation", "presence"]],
)
def test_conditioning_grids_that_cannot_fit_are_refused(tmp_path, capsys, options):
    out = tmp_path / "c.csv"
    assert main(["simulate", "conditioning", *options, "--out", str(out)]) == 2
    err = _one_line_error(capsys, "simulate")
    assert "would need about" in err and ("dt" in err and "isi" in err)
    assert not out.exists()


def test_conditioning_task_refuses_grid_through_the_python_api():
    from dopasoft.tasks.conditioning.task import ConditioningTask

    with pytest.raises(ValueError, match="dt=1e-06 s .* would need about"):
        ConditioningTask("acquisition", dt=1e-6)
    assert ConditioningTask("acquisition", dt=0.05).n_bins == 61  # 1 s + 1.5 s + 0.5 s, +1 pre-cue bin


def test_trace_out_equal_to_out_is_refused(tmp_path, capsys):
    out = tmp_path / "c.csv"
    argv = ["simulate", "conditioning", "--out", str(out), "--trace-out", str(tmp_path / "." / "c.csv")]
    assert main(argv) == 2
    assert "--trace-out" in _one_line_error(capsys, "simulate")
    assert not out.exists()


def test_available_memory_reads_meminfo_and_cgroup_limit(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  1000 kB\nMemFree:  10 kB\nMemAvailable:  600 kB\n")
    cg = tmp_path / "cgroup"
    cg.mkdir()
    assert _memory.available_bytes(str(meminfo), str(cg)) == 600 * 1024
    (cg / "memory.max").write_text("max\n")  # no limit
    assert _memory.available_bytes(str(meminfo), str(cg)) == 600 * 1024
    (cg / "memory.max").write_text(f"{500 * 1024}\n")
    (cg / "memory.current").write_text(f"{200 * 1024}\n")
    assert _memory.available_bytes(str(meminfo), str(cg)) == 300 * 1024

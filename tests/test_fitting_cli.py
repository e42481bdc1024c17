"""``dopasoft fit`` / ``dopasoft recover``: output, resuming after an interruption, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dopasoft.cli.fit as cli_fit
import dopasoft.fitting as F
from dopasoft.cli import main


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    model = F.get_model("soft-q-lambda")
    true = F.sample_parameters(model, 8, np.random.default_rng(0))
    df = F.simulate_choices(model, true, n_trials=100, seed=1)
    path = tmp_path_factory.mktemp("d") / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_fit_writes_one_row_per_subject(data_file, tmp_path):
    out = tmp_path / "fits.csv"
    rc = main(
        ["fit", str(data_file), "--model", "soft-q-lambda", "--n-starts", "2", "--out", str(out), "--quiet"]
    )
    assert rc == 0
    res = pd.read_csv(out, dtype={"subject": str})
    assert len(res) == 8 and res["subject"].is_unique
    ref = F.fit(pd.read_csv(data_file, dtype={"subject": str}), "soft-q-lambda", n_starts=2)
    np.testing.assert_allclose(res["nll"], ref.params["nll"])


def test_interrupted_fit_resumes_without_refitting(data_file, tmp_path, monkeypatch):
    out = tmp_path / "fits.csv"
    real = cli_fit.iter_fit
    seen: list[str] = []

    def interrupted(*args, **kw):
        for k, chunk in enumerate(real(*args, **kw)):
            seen.extend(chunk[0]["subject"].astype(str))
            yield chunk
            if k == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(cli_fit, "iter_fit", interrupted)
    argv = [
        "fit",
        str(data_file),
        "--model",
        "soft-q-lambda",
        "--n-starts",
        "2",
        "--out",
        str(out),
        "--chunk-size",
        "3",
        "--quiet",
    ]
    assert main(argv) == 130
    first = pd.read_csv(out, dtype={"subject": str})
    assert len(first) == 6
    # a torn last line (killed mid-write) is dropped, not misread
    with open(out, "a") as fh:
        fh.write("sub00")
    seen.clear()
    monkeypatch.setattr(cli_fit, "iter_fit", interrupted)
    assert main(argv) == 0
    final = pd.read_csv(out, dtype={"subject": str})
    assert len(final) == 8 and final["subject"].is_unique
    assert set(seen).isdisjoint(first["subject"])  # finished subjects not recomputed
    pd.testing.assert_frame_equal(final.iloc[:6].reset_index(drop=True), first.reset_index(drop=True))
    # resuming with other options is refused
    with pytest.raises(ValueError, match="seed"):
        cli_fit.run_fit(cli_fit_args(data_file, out, seed=3))


def test_resume_refuses_other_model_options(data_file, tmp_path):
    out = tmp_path / "fits.csv"
    argv = [
        "fit",
        str(data_file),
        "--model",
        "soft-q-lambda",
        "--n-starts",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    # the model options are written in the spec: the resume refuses another spec, naming both
    with pytest.raises(ValueError, match="soft-q-lambda\\+kappa"):
        from dopasoft.cli import build_parser

        cli_fit.run_fit(build_parser().parse_args([*argv[:2], "--model", "soft-q-lambda+kappa", *argv[4:]]))


def cli_fit_args(data_file, out, seed):
    import argparse

    from dopasoft.cli import build_parser

    ns = build_parser().parse_args(
        [
            "fit",
            str(data_file),
            "--model",
            "soft-q-lambda",
            "--n-starts",
            "2",
            "--out",
            str(out),
            "--seed",
            str(seed),
            "--quiet",
        ]
    )
    assert isinstance(ns, argparse.Namespace)
    return ns


def test_cli_errors(data_file, tmp_path, capsys):
    rc = main(
        [
            "fit",
            str(data_file),
            "--model",
            "soft-q-lambda",
            "--fix",
            "beta=1",
            "--out",
            str(tmp_path / "x.csv"),
            "--quiet",
        ]
    )
    assert rc == 2
    assert "unknown parameter 'beta'" in capsys.readouterr().err
    rc = main(
        ["fit", str(tmp_path / "nope.csv"), "--model", "soft-q-lambda", "--out", str(tmp_path / "x.csv")]
    )
    assert rc == 2


def test_recover(tmp_path, capsys):
    rc = main(
        [
            "recover",
            "--model",
            "soft-q",
            "--n-subjects",
            "12",
            "--n-trials",
            "120",
            "--n-starts",
            "2",
            "--task",
            "bandit",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    table = pd.read_csv(tmp_path / "recovery.csv")
    assert set(table["param"]) == {"alpha", "tau"}
    assert (tmp_path / "fits.csv").exists() and (tmp_path / "true_params.csv").exists()
    assert "pearson_r" in capsys.readouterr().err  # summaries and reports go to stderr


def test_recover_models_writes_confusion_and_inversion(tmp_path, capsys):
    argv = [
        "recover",
        "--models",
        "soft-q,soft-q-lambda+kappa",
        "--n-subjects",
        "4",
        "--n-trials",
        "60",
        "--n-starts",
        "2",
        "--task",
        "bandit",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    conf = pd.read_csv(tmp_path / "confusion.csv", index_col="generating")
    inv = pd.read_csv(tmp_path / "inversion.csv", index_col="generating")
    assert list(conf.index) == ["soft-q", "soft-q-lambda+kappa"] and list(conf.columns) == list(conf.index)
    np.testing.assert_allclose(conf.sum(axis=1), 1.0)
    assert inv.shape == (2, 2)
    for name in (
        "counts.csv",
        "best_fits.csv",
        "true_params.csv",
        "data.csv",
        "fits_soft-q.csv",
        "fits_soft-q-lambda+kappa.csv",
    ):
        assert (tmp_path / name).exists(), name
    assert "confusion" in capsys.readouterr().err
    # exactly one of --model / --models; per-model options go into the specs
    assert main(["recover", "--n-subjects", "4", "--out", str(tmp_path)]) == 2
    assert "either --model" in capsys.readouterr().err
    assert main(argv + ["--fix", "alpha=0.5"]) == 2
    assert "--fix apply to --model only" in capsys.readouterr().err


def test_cli_map_fit_with_priors(tmp_path):
    import numpy as np
    import pandas as pd

    from dopasoft.cli import main
    from dopasoft.experiments import simulate_two_step

    data = tmp_path / "ts.csv"
    simulate_two_step(3, 60, seed=2).to_csv(data, index=False)
    out = tmp_path / "map.csv"
    code = main(
        [
            "fit",
            str(data),
            "--model",
            "soft-q-lambda",
            "--n-starts",
            "2",
            "--quiet",
            "--prior",
            "alpha=0,0.05",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    fits = pd.read_csv(out)
    # a tight prior at 0 on the logit scale holds alpha at 0.5; nlp = nll - log N(logit(alpha) | 0, 0.05)
    assert fits["alpha"].between(0.45, 0.55).all()
    z = np.log(fits["alpha"] / (1 - fits["alpha"]))
    neg_log_prior = z**2 / (2 * 0.05**2) + np.log(0.05) + 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(fits["nlp"] - fits["nll"], neg_log_prior, atol=1e-6)
    assert main(["fit", str(data), "--model", "soft-q-lambda", "--prior", "alpha=0", "--out", str(out)]) == 2
    assert (
        main(
            [
                "fit",
                str(data),
                "--model",
                "soft-q-lambda",
                "--prior",
                "nope=0,1",
                "--out",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )

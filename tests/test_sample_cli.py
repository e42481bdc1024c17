"""``dopasoft sample``: the posterior as netCDF that ArviZ reads, a summary table, no silent failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

az = pytest.importorskip("arviz")  # the [bayes] extra is part of [test]: CI runs these


def _run(args, cwd):
    cmd = [sys.executable, "-m", "dopasoft", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    where = tmp_path_factory.mktemp("sample")
    sim = ["simulate", "two-step", "--n-subjects", "3", "--n-trials", "40", "--model", "daw-hybrid"]
    assert _run([*sim, "--out", "ts.csv", "--quiet"], where).returncode == 0
    return where


def test_sample_writes_netcdf_and_summary_and_names_failed_checks(cohort):
    args = ["sample", "ts.csv", "--model", "ts_par4", "--out", "post.nc", "--summary", "summary.csv"]
    res = _run([*args, "--chains", "2", "--draws", "30", "--tune", "30", "--quiet"], cohort)
    assert res.returncode == 0, res.stderr
    idata = az.from_netcdf(cohort / "post.nc")
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.posterior["a"].dims == ("chain", "draw", "subject")
    assert idata.posterior.sizes["draw"] == 30 and idata.posterior.sizes["chain"] == 2
    table = (cohort / "summary.csv").read_text().splitlines()
    assert table[0].startswith("parameter,mean,sd,hdi_3%,hdi_97%") and any(
        r.startswith("mu_a,") for r in table
    )
    # 30 draws cannot reach a bulk ESS of 400: said even with --quiet
    assert "dopasoft sample: warning: bulk ESS" in res.stderr
    again = _run([*args], cohort)
    assert again.returncode == 2 and "exists; give --overwrite" in again.stderr


def test_sample_refuses_an_unknown_model(cohort):
    res = _run(["sample", "ts.csv", "--model", "ts_par99", "--out", "x.nc"], cohort)
    assert res.returncode == 2 and "--model" in res.stderr and not (cohort / "x.nc").exists()


def test_sample_takes_covariates_for_chosen_parameters(tmp_path):
    import pandas as pd

    from dopasoft.fitting import simulate_choices

    data = simulate_choices(
        "soft-q", {"alpha": 0.3, "tau": 0.25}, task="bandit", n_subjects=4, n_trials=30, seed=3
    )
    data.to_csv(tmp_path / "bandit.csv", index=False)
    subjects = sorted(data["subject"].astype(str).unique())
    cov = pd.DataFrame({"subject": subjects, "group": ["a", "a", "b", "b"], "age": [20, 30, 40, 50]})
    cov.to_csv(tmp_path / "cov.csv", index=False)
    base = ["sample", "bandit.csv", "--model", "bandit2arm_delta", "--covariates", "cov.csv", "--quiet"]
    base += ["--chains", "1", "--draws", "20", "--tune", "20"]
    res = _run([*base, "--out", "c.nc", "--covariate", "A=group"], tmp_path)
    assert res.returncode == 0, res.stderr
    post = az.from_netcdf(tmp_path / "c.nc").posterior
    assert "beta_A" in post and "beta_tau" not in post
    assert list(post["beta_A"].coords["covariate"].values) == ["group[b]"]
    for extra, message in (
        (["--covariate", "A=group", "--covariate", "tau=age"], "must take the same columns"),
        (["--covariate", "A=nope"], "column(s) ['nope'] not in --covariates"),
        (["--covariate", "A=group", "--covariate", "A=age"], "gives A twice"),
    ):
        bad = _run([*base, "--out", "d.nc", *extra], tmp_path)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr

"""compare_models on posteriors: PSIS-LOO per choice, BMS on each subject's summed pointwise elpd."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("nutpie")

import dopasoft as ds  # noqa: E402
from dopasoft.fitting import sample, simulate_choices  # noqa: E402


@pytest.fixture(scope="module")
def posteriors():
    data = simulate_choices(
        "soft-q", {"alpha": 0.3, "tau": 0.25}, task="bandit", n_subjects=4, n_trials=50, seed=3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # so few draws fail the ESS check
        runs = {
            m: sample(data, m, chains=1, draws=80, tune=80, seed=1, progress=False)
            for m in ("bandit2arm_delta", "soft-q+kappa")
        }
    return runs


def test_loo_table_and_bms_on_subject_elpd(posteriors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k warnings on so few draws
        table, _ = ds.analysis.compare_models(posteriors)
        loos = {m: p.loo(pointwise=True) for m, p in posteriors.items()}
    assert list(table["model"]) == list(posteriors)
    assert table["delta_looic"].min() == 0.0
    for m, loo in loos.items():
        row = table.set_index("model").loc[m]
        np.testing.assert_allclose(row["elpd_loo"], float(loo.elpd_loo), rtol=1e-12)
        np.testing.assert_allclose(row["looic"], -2 * float(loo.elpd_loo), rtol=1e-12)
    assert np.isclose(table["weight"].sum(), 1.0)
    assert table["n_best"].sum() == 4 and np.isclose(table["expected_frequency"].sum(), 1.0)


def test_posteriors_and_fits_tables_are_not_mixed(posteriors):
    fits = next(iter(posteriors.values())).params.assign(nll=1.0, aic=2.0, bic=3.0)
    with pytest.raises(ValueError, match="compare posteriors with posteriors"):
        ds.analysis.compare_models({"a": fits, "b": posteriors["soft-q+kappa"]})


@pytest.fixture(scope="module")
def two_step_posterior():
    data = ds.experiments.simulate_two_step(3, 40, model="daw-hybrid", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = sample(data, "ts_par4", chains=2, draws=40, tune=40, seed=0, progress=False)
    return data, post


def test_draw_params_are_posterior_draws_in_dopasoft_names(two_step_posterior):
    _, post = two_step_posterior
    tables = post.draw_params(5, seed=1)
    assert len(tables) == 5 and list(tables[0].columns) == ["subject", "alpha", "beta", "pers", "w"]
    a = post.idata.posterior["a"].values.reshape(-1, 3)  # every (chain, draw) of every subject
    for t in tables:  # each table is one joint draw of all subjects
        assert any(np.array_equal(t["alpha"].to_numpy(), row) for row in a)
    again = post.draw_params(5, seed=1)
    assert all(x.equals(y) for x, y in zip(tables, again, strict=True))


def test_posterior_predictive_runs_one_draw_per_session(two_step_posterior):
    data, post = two_step_posterior
    sims = ds.analysis.posterior_predictive(data, post, n_sims=3, seed=4)
    assert sorted(sims["sim"].unique()) == [0, 1, 2]
    assert sims.groupby("sim")["subject"].nunique().tolist() == [3, 3, 3]
    assert sims.equals(ds.analysis.posterior_predictive(data, post, n_sims=3, seed=4))
    table = ds.analysis.posterior_predictive_table(data, {"ts_par4": sims})
    assert set(table["source"]) == {"data", "ts_par4"}
    fig = ds.analysis.plot_posterior_predictive(data, {"ts_par4": sims})
    assert fig.axes

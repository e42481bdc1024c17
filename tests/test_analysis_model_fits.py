"""Fitted-model analysis: model detection and errors, parameter tables, recovery statistics,
model comparison tables and posterior predictive simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dopasoft.analysis import model_fits as mf

pytestmark = pytest.mark.numerics  # run again with other numpy SIMD kernels (.ci/run)


def _fits(model: str = "soft-q-lambda", n: int = 4, **extra) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "subject": [f"s{i}" for i in range(n)],
            "alpha": rng.uniform(0.2, 0.8, n),
            "tau": rng.uniform(0.1, 0.4, n),
            "lam": rng.uniform(0.2, 0.9, n),
            "kappa": rng.uniform(-0.5, 0.5, n),
            "nll": rng.uniform(100, 120, n),
            "n_choices": 400,
            "model": model,
        }
    )
    return df.assign(**extra)


def test_fits_model_from_column_and_options():
    m = mf.fits_model(_fits())
    assert m.name == "soft-q-lambda" and m.param_names == ("alpha", "tau", "lam", "kappa")
    m2 = mf.fits_model(_fits().drop(columns=["kappa", "model"]), "soft-q-lambda-uncorrected")
    assert m2.param_names == ("alpha", "tau", "lam")


def test_fits_without_the_models_parameters_raise():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['lam'\] needed for model 'soft-q-lambda'"):
        mf.fits_model(_fits().drop(columns="lam"))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['alpha1', 'beta1'"):
        mf.fits_model(_fits(), "daw-hybrid")
    with pytest.raises(ValueError, match="no 'model' column"):
        mf.fits_model(_fits().drop(columns="model"))
    with pytest.raises(ValueError, match="holds 2 models"):
        mf.fits_model(pd.concat([_fits(), _fits("soft-q-lambda-on-policy")]))
    with pytest.raises(ValueError, match="unknown model"):
        mf.fits_model(_fits(), "q-learning")


def test_parameter_table_numbers():
    f = _fits(n=6)
    table = mf.parameter_table(f).set_index("param")
    assert list(table.index) == ["alpha", "tau", "lam", "kappa"]
    assert table.loc["alpha", "mean"] == pytest.approx(f["alpha"].mean())
    assert table.loc["tau", "sd"] == pytest.approx(f["tau"].std(ddof=1))
    assert table.loc["lam", "q75"] == pytest.approx(f["lam"].quantile(0.75))
    assert table.loc["kappa", "n"] == 6 and np.isnan(table.loc["kappa", "median_se"])


def test_recovery_table_by_hand():
    true = pd.DataFrame({"subject": ["a", "b", "c", "d"], "alpha": [0.1, 0.2, 0.3, 0.4]})
    fitted = pd.DataFrame({"subject": ["d", "c", "b", "a"], "alpha": [0.5, 0.4, 0.3, 0.2], "nll": 1.0})
    row = mf.recovery_table(true, fitted).iloc[0]  # matched on subject: estimate = true + 0.1
    assert row["param"] == "alpha" and row["n"] == 4
    assert row["pearson_r"] == pytest.approx(1.0)
    assert row["bias"] == pytest.approx(0.1) and row["rmse"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="missing from the true or the fitted"):
        mf.recovery_table(true, fitted, ["tau"])


def test_one_recovery_table_matched_on_subject():
    import dopasoft.analysis as an
    import dopasoft.fitting as F

    assert F.recovery_table is an.recovery_table is mf.recovery_table
    true = pd.DataFrame({"subject": ["a", "b", "c", "d"], "alpha": [0.1, 0.2, 0.3, 0.4], "tau": 0.2})
    # rows in another order, one subject without a fit: the fitting path matches on subject too
    fitted = pd.DataFrame(
        {"subject": ["c", "a", "d", "b"], "alpha": [0.1, 0.3, 0.2, 0.4], "tau": 0.3, "nll": [1, 1, 1, np.nan]}
    )
    rec = F.recovery_table(true, fitted).set_index("param")  # default: parameters in both tables
    assert list(rec.index) == ["alpha", "tau"]
    # a, c, d: true 0.1, 0.3, 0.4; estimated 0.3, 0.1, 0.2 -> errors +0.2, -0.2, -0.2
    assert rec.loc["alpha", "n"] == 3 and rec.loc["alpha", "n_left_out"] == 1
    assert rec.loc["alpha", "bias"] == pytest.approx(-0.2 / 3)
    assert rec.loc["alpha", "rmse"] == pytest.approx(0.2)
    assert rec.loc["tau", "bias"] == pytest.approx(0.1)
    assert np.isnan(rec.loc["tau", "pearson_r"]) and np.isnan(rec.loc["tau", "spearman_r"])  # constant


def test_compare_models_table():
    a = _fits("soft-q-lambda", aic=[10.0, 20.0, 30.0, 40.0], bic=[12.0, 22.0, 32.0, 42.0])
    b = _fits("daw-hybrid", aic=[11.0, 19.0, 35.0, 45.0], bic=[14.0, 22.0, 38.0, 48.0])
    table, res = mf.compare_models({"sq": a, "hy": b})
    t = table.set_index("model")
    assert t.loc["sq", "aic"] == 100 and t.loc["hy", "aic"] == 110
    assert t.loc["sq", "delta_aic"] == 0 and t.loc["hy", "delta_aic"] == 10
    assert t.loc["hy", "delta_bic"] == 122 - 108
    assert t.loc["sq", "n_best"] + t.loc["hy", "n_best"] == 4
    assert t.loc["sq", "n_best"] == 4  # on BIC: hy ties once (22 = 22) -> argmin picks the first
    assert t["protected_exceedance"].sum() == pytest.approx(1.0)
    # the BMS used -BIC/2
    from dopasoft.fitting import bms

    direct = bms(-np.column_stack([a["bic"], b["bic"]]) / 2)
    np.testing.assert_allclose(res.exceedance, direct.exceedance)
    # aic/bic computed from n_choices and n_free when absent; fit writes se_ columns for fixed
    # parameters too (NaN), so they must not be counted: k = n_free = 2 here, not the 4 se_ columns
    se_all = {"se_alpha": 0.1, "se_tau": 0.1, "se_lam": np.nan, "se_kappa": np.nan}
    c = _fits(**se_all, n_free=2)
    d = _fits(**{"se_alpha": 0.1, "se_tau": 0.1, "se_lam": 0.1, "se_kappa": np.nan}, n_free=3)
    t2, _ = mf.compare_models({"c": c, "d": d})
    t2 = t2.set_index("model")
    assert t2.loc["c", "aic"] == pytest.approx(2 * c["nll"].sum() + 2 * 2 * 4)
    assert t2.loc["c", "bic"] == pytest.approx(2 * c["nll"].sum() + 2 * np.log(400) * 4)
    assert t2.loc["c", "n_params"] == 2 and t2.loc["d", "n_params"] == 3
    # with aic and bic present, n_params is still n_free (not the se_ columns)
    t3, _ = mf.compare_models({"a": a.assign(**se_all, n_free=2), "b": b.assign(**se_all, n_free=2)})
    assert (t3["n_params"] == 2).all()
    # an older table without n_free: aic/bic cannot be computed, and the error names the column
    with pytest.raises(ValueError, match="fits table of 'c' lacks column 'n_free'"):
        mf.compare_models({"c": c.drop(columns="n_free"), "d": d})
    with pytest.raises(ValueError, match="'n_free' must hold one non-negative integer"):
        mf.compare_models({"c": c.assign(n_free=[2, 2, 3, 2]), "d": d})
    with pytest.raises(ValueError, match="at least two"):
        mf.compare_models({"a": a})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['nll'\]"):
        mf.compare_models({"a": a, "b": b.drop(columns="nll")})
    with pytest.raises(ValueError, match="share no subject"):
        mf.compare_models({"a": a, "b": b.assign(subject=["x", "y", "z", "w"])})


def test_posterior_predictive_simulates_each_subject():
    data = pd.DataFrame({"subject": np.repeat(["s0", "s1", "s2"], 50), "trial": np.tile(np.arange(1, 51), 3)})
    f = _fits(n=3)
    sim = mf.posterior_predictive(data, f, n_sims=2, seed=3)
    assert len(sim) == 3 * 50 * 2
    assert set(sim["subject"]) == {"s0", "s1", "s2"} and set(sim["sim"]) == {0, 1}
    assert sim["subject_sim"].nunique() == 6
    assert set(sim["choice1"].unique()) <= {0, 1}
    again = mf.posterior_predictive(data, f, n_sims=2, seed=3)
    pd.testing.assert_frame_equal(sim, again)
    table = mf.posterior_predictive_table(sim.drop(columns=["sim", "subject_sim"]), {"sq": sim})
    assert set(table["source"]) == {"data", "sq"}
    assert table.loc[table["source"] == "sq", "n_subjects"].max() == 6
    with pytest.raises(ValueError, match="no subject of the data"):
        mf.posterior_predictive(data.assign(subject="zz"), f)


def test_posterior_predictive_leaves_out_subjects_without_fit():
    data = pd.DataFrame({"subject": np.repeat(["s0", "s1", "s2"], 30), "trial": np.tile(np.arange(1, 31), 3)})
    f = _fits(n=3)
    f.loc[1, ["alpha", "tau", "lam", "kappa", "nll"]] = np.nan
    f.loc[1, "n_choices"] = 0
    sim = mf.posterior_predictive(data, f, n_sims=1, seed=3)
    assert set(sim["subject"]) == {"s0", "s2"}
    assert mf.fitted_rows(f).tolist() == [True, False, True]
    assert mf.fitted_rows(f.assign(n_choices=400)).tolist() == [True, False, True]  # NaN nll alone

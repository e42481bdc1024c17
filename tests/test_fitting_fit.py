"""Maximum-likelihood fitting: optimum, recovery, fixed parameters, executors, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import dopasoft.fitting as F
from dopasoft.fitting.optimizer import Transform


@pytest.fixture(scope="module")
def sim():
    model = F.get_model("soft-q-lambda")
    true = F.sample_parameters(model, 40, np.random.default_rng(0))
    data = F.simulate_choices(model, true, n_trials=200, seed=1)
    return model, true, data


@pytest.fixture(scope="module")
def fitted(sim):
    """Maximum likelihood (``prior={}``): these tests compare with ML references."""
    model, _, data = sim
    return F.fit(data, model, n_starts=10, seed=0, prior={})


def _dense_reference(model, data, n_starts=25, seed=5):
    """Dense multi-start L-BFGS-B on the natural scale (scipy, finite differences)."""
    tr = F.to_transitions(data)
    bounds = [(1e-6, 1 - 1e-6) if p.upper == 1 else (1e-4, 20.0) for p in model.params]
    rng = np.random.default_rng(seed)
    best = np.full(tr.n_subjects, np.inf)
    for i in range(tr.n_subjects):
        sub = np.array([i], np.int64)
        for _ in range(n_starts):
            x0 = [rng.uniform(lo + 0.01, min(hi, 2.0) - 0.01) for lo, hi in bounds]
            r = minimize(
                lambda x, sub=sub: model.nll_pairs(tr, sub, x[None])[0], x0, method="L-BFGS-B", bounds=bounds
            )
            best[i] = min(best[i], r.fun)
    return best


def test_fit_reaches_dense_reference_optimum(sim, fitted):
    model, _, data = sim
    sub = data[data["subject"].isin(data["subject"].unique()[:6])]
    ref = _dense_reference(model, sub)
    got = fitted.params["nll"].to_numpy()[:6]
    assert np.all(got <= ref + 0.05), (got - ref).max()


def test_fit_table_columns_and_statistics(fitted, sim):
    model, _, data = sim
    p = fitted.params
    for col in [
        "subject",
        "alpha",
        "tau",
        "lam",
        "nll",
        "aic",
        "bic",
        "n_choices",
        "converged",
        "se_alpha",
        "se_tau",
        "se_lam",
    ]:
        assert col in p.columns
    assert list(p["subject"]) == list(data["subject"].unique())
    assert (p["n_choices"] == 400).all()
    np.testing.assert_allclose(p["aic"], 2 * p["nll"] + 6)
    np.testing.assert_allclose(p["bic"], 2 * p["nll"] + 3 * np.log(400))
    assert p["converged"].mean() > 0.9
    # reported NLL is the likelihood at the reported parameters
    again = F.negative_log_likelihood(data, model, p)
    np.testing.assert_allclose(again.to_numpy(), p["nll"].to_numpy(), atol=1e-9)
    assert "total NLL" in fitted.summary()


def test_parameter_recovery(sim, fitted):
    _, true, _ = sim
    for name in ("alpha", "tau"):
        r = np.corrcoef(true[name], fitted.params[name])[0, 1]
        assert r >= 0.8, (name, r)


def test_standard_errors_match_observed_information(sim, fitted):
    """SE from the transformed-scale Hessian equals 1/sqrt(d2 NLL/d theta2) on the natural scale."""
    model, _, data = sim
    row = fitted.params.iloc[np.argmax(fitted.params["converged"].to_numpy())]
    tr = F.to_transitions(data)
    i = int(np.flatnonzero(tr.subjects == row["subject"])[0])
    th = row[list(model.param_names)].to_numpy(float)
    h = 1e-4
    hess = np.zeros((3, 3))
    f = lambda x: model.nll_pairs(tr, np.array([i]), x[None])[0]  # noqa: E731
    for a in range(3):
        for b in range(3):
            ea, eb = np.eye(3)[a] * h, np.eye(3)[b] * h
            hess[a, b] = (f(th + ea + eb) - f(th + ea - eb) - f(th - ea + eb) + f(th - ea - eb)) / (4 * h * h)
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    got = row[["se_alpha", "se_tau", "se_lam"]].to_numpy(float)
    ok = np.isfinite(got)
    assert ok.all() and not row["at_bound"]
    np.testing.assert_allclose(got, se, rtol=1e-3)


def test_fixed_parameters_and_bounds(sim):
    model, _, data = sim
    sub = data[data["subject"].isin(data["subject"].unique()[:4])]
    res = F.fit(sub, model, n_starts=3, fixed={"lam": 0.5}, bounds={"tau": (0.01, 5.0)})
    assert (res.params["lam"] == 0.5).all()
    assert res.params["se_lam"].isna().all()
    assert res.params["tau"].between(0.01, 5.0).all()
    np.testing.assert_allclose(res.params["aic"], 2 * res.params["nll"] + 4)
    assert (res.params["n_free"] == 2).all()  # alpha and tau; the fixed lam is not counted
    with pytest.raises(ValueError, match="fixed: unknown parameter 'beta'"):
        F.fit(sub, model, fixed={"beta": 1})
    with pytest.raises(ValueError, match=r"fixed\['alpha'\] = 2.0 is outside"):
        F.fit(sub, model, fixed={"alpha": 2})
    with pytest.raises(ValueError, match=r"bounds\['tau'\]: lower 1.0 must be below"):
        F.fit(sub, model, bounds={"tau": (1, 0.5)})
    with pytest.raises(ValueError, match="n_starts must be a positive integer"):
        F.fit(sub, model, n_starts=0)


def test_results_independent_of_executor_and_chunks(sim):
    model, _, data = sim
    sub = data[data["subject"].isin(data["subject"].unique()[:9])]
    a = F.fit(sub, model, n_starts=3, seed=2).params
    with ThreadPoolExecutor(max_workers=3) as ex:
        b = F.fit(sub, model, n_starts=3, seed=2, executor=ex, chunk_size=2).params
    pd.testing.assert_frame_equal(a, b)
    # a subject's fit does not depend on which other subjects are fitted with it
    c = F.fit(sub[sub["subject"] == sub["subject"].iloc[-1]], model, n_starts=3, seed=2).params
    pd.testing.assert_frame_equal(c.reset_index(drop=True), a.iloc[[-1]].reset_index(drop=True))


def test_hybrid_fit_runs_and_improves_on_truth():
    model = F.get_model("daw-hybrid-4")
    true = pd.DataFrame(
        {"alpha": [0.5, 0.3, 0.6], "beta": [4.0, 6.0, 3.0], "pers": [0.3, 0.8, 0.1], "w": [0.2, 0.8, 0.5]}
    )
    data = F.simulate_choices(model, true, n_trials=150, seed=3)
    res = F.fit(data, model, n_starts=4, prior={})
    truth = F.negative_log_likelihood(data, model, true)
    assert np.all(res.params["nll"].to_numpy() <= truth.to_numpy() + 1e-6)


def test_transform_roundtrip():
    t = Transform(np.array([0.0, 0.0, -np.inf, -np.inf]), np.array([1.0, np.inf, 3.0, np.inf]))
    theta = np.array([[0.3, 2.5, -1.0, 4.0]])
    z = t.to_unconstrained(theta)
    np.testing.assert_allclose(t.to_natural(z), theta)
    eps = 1e-6
    num = (t.to_natural(z + eps) - t.to_natural(z - eps)) / (2 * eps)
    np.testing.assert_allclose(t.derivative(z), num, rtol=1e-6)


def test_forking_process_pool_is_refused(sim):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    model, _, data = sim
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as ex:
        with pytest.raises(ValueError, match="spawn"):
            F.fit(data, model, n_starts=1, executor=ex)


def test_map_prior_tight_wide_and_errors(sim, fitted):
    model, _, data = sim
    sub = data[data["subject"].isin(data["subject"].unique()[:8])]
    ml = fitted.params.iloc[:8].reset_index(drop=True)
    # a very tight prior pins the estimate at the prior mean (z = logit(0.3) for alpha in (0, 1))
    tight = F.fit(sub, model, n_starts=3, prior={"alpha": (np.log(0.3 / 0.7), 1e-4)})
    p = tight.params
    np.testing.assert_allclose(p["alpha"], 0.3, atol=1e-4)
    assert tight.prior == {"alpha": (np.log(0.3 / 0.7), 1e-4)}
    # nlp = nll + the Gaussian's negative log density at z; the NLL is the likelihood at the estimate;
    # AIC/BIC come from the NLL
    z = np.log(p["alpha"] / (1 - p["alpha"]))
    nlp = p["nll"] + 0.5 * ((z - np.log(0.3 / 0.7)) / 1e-4) ** 2 + np.log(1e-4) + 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(p["nlp"], nlp, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(p["nll"], F.negative_log_likelihood(sub, model, p).to_numpy(), atol=1e-9)
    np.testing.assert_allclose(p["aic"], 2 * p["nll"] + 6)
    assert np.all(p["nll"] >= ml["nll"] - 1e-6)
    assert {"nll", "nlp"} <= set(tight.starts.columns) and "MAP" in tight.summary()
    # a flat prior (sd 1e4 on every z) gives the maximum-likelihood estimate
    wide = F.fit(sub, model, n_starts=10, prior={n: (0.0, 1e4) for n in model.param_names})
    np.testing.assert_allclose(wide.params["nll"], ml["nll"], atol=1e-5)
    np.testing.assert_allclose(wide.params[["alpha", "tau"]], ml[["alpha", "tau"]], atol=2e-3)
    assert "nlp" not in ml.columns
    # errors name the parameter at fault
    with pytest.raises(ValueError, match="prior: unknown parameter 'beta'"):
        F.fit(sub, model, prior={"beta": (0.0, 1.0)})
    with pytest.raises(ValueError, match=r"prior\['tau'\]: sd must be positive"):
        F.fit(sub, model, prior={"tau": (0.0, 0.0)})
    with pytest.raises(ValueError, match=r"prior\['lam'\] must be a pair"):
        F.fit(sub, model, prior={"lam": 0.5})
    with pytest.raises(ValueError, match=r"prior\['lam'\]: the parameter is fixed"):
        F.fit(sub, model, fixed={"lam": 0.5}, prior={"lam": (0.0, 1.0)})

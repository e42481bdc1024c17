"""Group covariates in full Bayes: ``z_s = μ + B x_s + σ ⊙ η_s``. The log density against a plain numpy
implementation, its gradient against central differences (compiled and numpy paths), the covariate
table's checks, and the recovery of a two-group difference in the learning rate."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dopasoft.fitting import negative_log_likelihood, sample, simulate_choices, to_transitions
from dopasoft.fitting.bayes import LogDensity, hierarchical_model
from dopasoft.fitting.bayes.covariates import design
from dopasoft.fitting.bayes.result import import_arviz

az = import_arviz()


def phi_approx(x):
    return 1.0 / (1.0 + np.exp(-(0.07056 * x**3 + 1.5976 * x)))


def _cohort(delta, seed, n=16, n_trials=100):
    """bandit2arm_delta's generative model, two groups of ``n / 2``: group 1's ``A`` is ``delta`` higher on
    the probit scale. The subjects' effects are centred within each group, so the cohort's difference is
    exactly ``delta``."""
    rng = np.random.default_rng(seed)
    g = np.repeat([0, 1], n // 2)
    eff = 0.3 * rng.normal(size=(2, n))
    for k in (0, 1):
        eff[:, g == k] -= eff[:, g == k].mean(axis=1, keepdims=True)
    A = phi_approx(-0.8 + delta * g + eff[0])
    tau = 5.0 * phi_approx(0.5 + eff[1])
    subj = [f"s{i:02d}" for i in range(n)]
    params = pd.DataFrame({"subject": subj, "alpha": A, "tau": 1.0 / tau})
    data = simulate_choices("soft-q", params, task="bandit", n_trials=n_trials, seed=rng)
    return data, pd.DataFrame({"subject": subj, "group": np.where(g == 1, "patient", "control")})


@pytest.fixture(scope="module")
def small():
    data, _ = _cohort(1.0, seed=3, n=6, n_trials=30)
    rng = np.random.default_rng(4)
    table = pd.DataFrame(
        {"subject": pd.unique(data["subject"])[::-1], "age": rng.normal(0, 1, 6), "group": list("ababba")}
    )
    return data, table


def numpy_log_density(x, data, table):
    """bandit2arm_delta with covariates (age, group[b]) on A only, written out: A = Φ≈(μ_A + β·x_s + σ_A η),
    tau = 5 Φ≈(μ_tau + σ_tau η), every prior with its constant, β ~ N(0, 1)."""
    subjects = list(pd.unique(data["subject"]))
    n = len(subjects)
    rows = table.set_index("subject").loc[subjects]
    X = np.column_stack([rows["age"].to_numpy(), (rows["group"] == "b").to_numpy(float)])
    mu, log_sigma, eta, beta = x[:2], x[2:4], x[4 : 4 + 2 * n].reshape(n, 2), x[4 + 2 * n :]
    sigma = np.exp(log_sigma)
    A = phi_approx(mu[0] + X @ beta + sigma[0] * eta[:, 0])
    tau = 5.0 * phi_approx(mu[1] + sigma[1] * eta[:, 1])
    lp = stats.norm.logpdf(mu).sum() + (math.log(2.0) + stats.norm.logpdf(sigma, 0.0, 0.2)).sum()
    lp += log_sigma.sum() + stats.norm.logpdf(eta).sum() + stats.norm.logpdf(beta).sum()
    params = pd.DataFrame({"subject": subjects, "alpha": A, "tau": 1.0 / tau})
    return lp - float(np.sum(np.asarray(negative_log_likelihood(data, "soft-q", params), dtype=float)))


def _density(data, table, params=("A",)):
    hm = hierarchical_model("bandit2arm_delta")
    tr = to_transitions(data)
    return LogDensity(hm, tr, design(table, tr.subjects, hm, params))


def test_design_dummies_and_order(small):
    data, table = small
    d = _density(data, table)
    cov = d.covariates
    assert cov.names == ("age", "group[b]") and cov.params == (0,)
    assert d.n_dim == 4 + 2 * 6 + 2
    rows = table.set_index("subject").loc[list(pd.unique(data["subject"]))]
    np.testing.assert_array_equal(cov.X[:, 0], rows["age"].to_numpy())
    np.testing.assert_array_equal(cov.X[:, 1], (rows["group"] == "b").to_numpy(float))


def test_log_density_is_the_numpy_one(small):
    data, table = small
    d = _density(data, table)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = rng.normal(0.0, 0.7, d.n_dim)
        expected = numpy_log_density(x, data, table)
        assert d.logp_grad(x)[0] == pytest.approx(expected, rel=1e-10, abs=1e-8)
        assert d.logp_grad_numpy(x)[0] == pytest.approx(expected, rel=1e-10, abs=1e-8)


@pytest.mark.parametrize("params", [("A",), None])
def test_gradient_is_central_differences(small, params):
    data, table = small
    d = _density(data, table, params)
    x = np.random.default_rng(2).normal(0.0, 0.6, d.n_dim)
    h = 1e-6
    fd = np.array([(d.logp_grad(x + e)[0] - d.logp_grad(x - e)[0]) / (2 * h) for e in np.eye(d.n_dim) * h])
    for grad in (d.logp_grad(x)[1], d.logp_grad_numpy(x)[1]):
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)
    # the coefficients' block is Σ_s (∂/∂z_s) x_s - β, nonzero
    assert np.all(np.abs(d.logp_grad(x)[1][-d.n_coef :]) > 0)


def test_covariate_table_errors(small):
    data, table = small
    hm = hierarchical_model("bandit2arm_delta")
    subjects = to_transitions(data).subjects
    first = str(subjects[0])
    with pytest.raises(ValueError, match=f"no row for subjects \\['{first}'\\]"):
        design(table[table["subject"] != first], subjects, hm)
    bad = table.copy()
    bad.loc[bad["subject"] == first, "age"] = np.nan
    with pytest.raises(ValueError, match=f"'age' is missing for subjects \\['{first}'\\]"):
        design(bad, subjects, hm)
    with pytest.raises(ValueError, match="'subject' column"):
        design(table.drop(columns="subject"), subjects, hm)
    with pytest.raises(ValueError, match="same for every subject"):
        design(table.assign(age=1.0), subjects, hm)
    with pytest.raises(ValueError, match="unknown parameter"):
        design(table, subjects, hm, ["alpha"])
    with pytest.raises(ValueError, match="more than one row"):
        design(pd.concat([table, table.iloc[:1]]), subjects, hm)
    with pytest.raises(ValueError, match="covariate_params needs covariates"):
        sample(data, "bandit2arm_delta", covariate_params=["A"], progress=False)


def _beta_hdi(delta, seed):
    data, table = _cohort(delta, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 2 x 300 draws may fail the ESS check
        post = sample(
            data,
            "bandit2arm_delta",
            chains=2,
            draws=300,
            tune=300,
            seed=1,
            progress=False,
            covariates=table,
            covariate_params=["A"],
        )
    return post, az.hdi(post.idata.posterior["beta_A"].sel(covariate="group[patient]").values.ravel(), 0.94)


# cohort seed 5: over cohort seeds 0-5 the 94 % HDI covered 1.2 and excluded 0 in all six, and included 0
# without a difference in five; for seed 5 both hold with margin under sampler seeds 1-4
def test_group_difference_is_recovered():
    post, (lo, hi) = _beta_hdi(1.2, seed=5)
    assert lo <= 1.2 <= hi and lo > 0.0
    beta = post.idata.posterior["beta_A"]
    assert beta.dims == ("chain", "draw", "covariate") and list(beta["covariate"].values) == [
        "group[patient]"
    ]
    assert "beta_tau" not in post.idata.posterior
    assert "beta_A[group[patient]]" in post.summary().index


def test_no_group_difference_includes_zero():
    _, (lo, hi) = _beta_hdi(0.0, seed=5)
    assert lo < 0.0 < hi


@pytest.mark.parametrize("model", ["soft-q+kappa", "soft-q+valence"])
def test_soft_q_gradient_with_covariates(small, model):
    data, table = small
    hm = hierarchical_model(model)
    tr = to_transitions(data)
    d = LogDensity(hm, tr, design(table, tr.subjects, hm))
    assert d.n_coef == 2 * hm.n_params
    x = np.random.default_rng(5).normal(0.0, 0.4, d.n_dim)
    h = 1e-6
    fd = np.array([(d.logp_grad(x + e)[0] - d.logp_grad(x - e)[0]) / (2 * h) for e in np.eye(d.n_dim) * h])
    lp, grad = d.logp_grad(x)
    lp_np, grad_np = d.logp_grad_numpy(x)
    assert lp == pytest.approx(lp_np, rel=1e-10)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_np, grad, rtol=1e-8, atol=1e-8)

"""Full Bayes of hBayesDM's two-step models ts_par7, ts_par6 and ts_par4: the hierarchical log density
against a plain numpy transcription of the Stan files (commons/stan_files/ts_par<n>.stan; priors,
transforms, the Jacobian of sigma, the model block's likelihood on the file's 1-based columns), its
gradient against finite differences, the compiled path against the numpy one, and a short nutpie run
reporting hBayesDM's names."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import dopasoft as ds
from dopasoft.fitting import read_hbayesdm, sample, to_transitions, write_hbayesdm
from dopasoft.fitting.bayes import LogDensity, hierarchical_model

N_SUBJECTS, N_TRIALS = 4, 40
SUBJECT_IDS = ["s07", "s03", "s12", "s01"]  # file order, not sorted


def phi_approx(x):
    return 1.0 / (1.0 + np.exp(-(0.07056 * x**3 + 1.5976 * x)))


# the parameters block of each Stan file, in order, with the transform of transformed parameters
STAN_PARAMS = {
    "ts_par7": ("a1", "beta1", "a2", "beta2", "pi", "w", "lambda"),
    "ts_par6": ("a1", "beta1", "a2", "beta2", "pi", "w"),
    "ts_par4": ("a", "beta", "pi", "w"),
}
STAN_TRANSFORM = {
    "a1": phi_approx,
    "a2": phi_approx,
    "a": phi_approx,
    "w": phi_approx,
    "lambda": phi_approx,
    "beta1": np.exp,
    "beta2": np.exp,
    "beta": np.exp,
    "pi": lambda x: 5.0 * phi_approx(x),
}


def bernoulli_logit_lpmf(y, x):
    """log of bernoulli(y | inv_logit(x))."""
    return -np.logaddexp(0.0, -x) if y == 1 else -np.logaddexp(0.0, x)


def stan_ts_log_lik(level1_choice, level2_choice, reward, a1, beta1, a2, beta2, pi, w, lam, trans_prob=0.7):
    """The Stan model block's likelihood of one subject, with its 1-based indices (v_mf[1..6])."""
    v_mf = np.zeros(7)  # v_mf[0] unused
    total = 0.0
    for t in range(len(level1_choice)):
        c1, c2, r = int(level1_choice[t]), int(level2_choice[t]), float(reward[t])
        v_mb1 = trans_prob * max(v_mf[3], v_mf[4]) + (1 - trans_prob) * max(v_mf[5], v_mf[6])
        v_mb2 = (1 - trans_prob) * max(v_mf[3], v_mf[4]) + trans_prob * max(v_mf[5], v_mf[6])
        v_h1 = w * v_mb1 + (1 - w) * v_mf[1]
        v_h2 = w * v_mb2 + (1 - w) * v_mf[2]
        x1 = beta1 * (v_h2 - v_h1)
        if t > 0:
            x1 += pi * (2 * int(level1_choice[t - 1]) - 3)
        total += bernoulli_logit_lpmf(c1 - 1, x1)
        v_mf[c1] += a1 * (v_mf[2 + c2] - v_mf[c1])
        x2 = beta2 * (v_mf[6] - v_mf[5]) if c2 > 2 else beta2 * (v_mf[4] - v_mf[3])
        total += bernoulli_logit_lpmf(1 - c2 % 2, x2)
        v_mf[2 + c2] += a2 * (r - v_mf[2 + c2])
        v_mf[c1] += lam * a1 * (r - v_mf[2 + c2])
    return total


def stan_subject_log_lik(name, values, rows):
    """Subject log-likelihood of model ``name`` at its transformed parameters ``values`` (dict)."""
    if name == "ts_par4":
        a, beta = values["a"], values["beta"]
        kw = dict(a1=a, beta1=beta, a2=a, beta2=beta, pi=values["pi"], w=values["w"], lam=1.0)
    else:
        kw = {k: values[k] for k in ("a1", "beta1", "a2", "beta2", "pi", "w")}
        kw["lam"] = values.get("lambda", 1.0)
    return stan_ts_log_lik(*rows, **kw)


def stan_log_density(name, x, files):
    """The Stan model block with every normalising constant: mu_pr ~ N(0, 1), sigma ~ N+(0, 0.2) on
    the log scale (Jacobian log sigma), every <p>_pr ~ N(0, 1), and every subject's likelihood."""
    names = STAN_PARAMS[name]
    p, n = len(names), len(files)
    mu_pr, log_sigma, raw = x[:p], x[p : 2 * p], x[2 * p :].reshape(n, p)
    sigma = np.exp(log_sigma)
    lp = stats.norm.logpdf(mu_pr, 0.0, 1.0).sum()
    lp += (math.log(2.0) + stats.norm.logpdf(sigma, 0.0, 0.2)).sum() + log_sigma.sum()
    lp += stats.norm.logpdf(raw).sum()
    for i, rows in enumerate(files):
        values = {k: float(STAN_TRANSFORM[k](mu_pr[j] + sigma[j] * raw[i, j])) for j, k in enumerate(names)}
        lp += stan_subject_log_lik(name, values, rows)
    return lp


@pytest.fixture(scope="module")
def ts_file(tmp_path_factory):
    """A small hBayesDM ts file (simulated by the hybrid), read back; and its 1-based columns per subject."""
    df = ds.experiments.simulate_two_step(
        N_SUBJECTS,
        N_TRIALS,
        model="daw-hybrid",
        params={"alpha1": 0.5, "beta1": 3.0, "alpha2": 0.4, "beta2": 4.0, "pers": 0.3, "w": 0.5, "lam": 0.6},
        seed=8,
    )
    df["subject"] = df["subject"].map(dict(enumerate(SUBJECT_IDS)))
    path = tmp_path_factory.mktemp("hbayesdm") / "ts_exampleData.txt"
    write_hbayesdm(df, path)
    raw = pd.read_csv(path, sep="\t", dtype={"subjID": str})
    files = [
        (g["level1_choice"].to_numpy(), g["level2_choice"].to_numpy(), g["reward"].to_numpy())
        for _, g in raw.groupby("subjID", sort=False)
    ]
    return read_hbayesdm(path), files


@pytest.mark.parametrize("name", ["ts_par7", "ts_par6", "ts_par4"])
def test_log_density_is_the_stan_model(ts_file, name):
    data, files = ts_file
    hm = hierarchical_model(name)
    assert hm.names == STAN_PARAMS[name]
    d = LogDensity(hm, to_transitions(data))
    assert d.n_dim == len(STAN_PARAMS[name]) * (2 + N_SUBJECTS)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = rng.normal(0.0, 0.8, d.n_dim)
        expected = stan_log_density(name, x, files)
        for lp in (d.logp_grad(x)[0], d.logp_grad_numpy(x)[0]):
            assert abs(lp - expected) <= 1e-10 * max(1.0, abs(expected))


def _central_differences(f, x, h=1e-6):
    return np.array([(f(x + e) - f(x - e)) / (2 * h) for e in np.eye(x.size) * h])


@pytest.mark.parametrize("name", ["ts_par7", "ts_par6", "ts_par4"])
def test_gradient_is_central_differences(ts_file, name):
    data, _ = ts_file
    d = LogDensity(hierarchical_model(name), to_transitions(data))
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = d.initial_point(int(rng.integers(1000))) + rng.normal(0.0, 0.3, d.n_dim)
        lp, grad = d.logp_grad(x)
        fd = _central_differences(lambda y: d.logp_grad(y)[0], x)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(fd).max()))


@pytest.mark.parametrize("name", ["ts_par7", "ts_par6", "ts_par4"])
def test_compiled_density_is_the_numpy_one(ts_file, name):
    data, _ = ts_file
    d = LogDensity(hierarchical_model(name), to_transitions(data))
    assert d._block is not None  # the compiled path
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.normal(0.0, 0.7, d.n_dim)
        lp, grad = d.logp_grad(x)
        lp_np, grad_np = d.logp_grad_numpy(x)
        assert lp == pytest.approx(lp_np, rel=1e-12)
        np.testing.assert_allclose(grad, grad_np, rtol=1e-10, atol=1e-10)
    x[1] = np.nan  # a point the sampler must reject
    for lp, grad in (d.logp_grad(x), d.logp_grad_numpy(x)):
        assert lp == -math.inf and not grad.any()


def test_daw_hybrid_names_the_ts_models():
    with pytest.raises(ValueError, match="'ts_par6'"):
        hierarchical_model("daw-hybrid-6")


@pytest.mark.parametrize("name", ["ts_par4", "ts_par7"])
def test_sampling_reports_hbayesdm_names(ts_file, name):
    data, files = ts_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # so few draws fail the ESS check
        post = sample(data, name, chains=1, draws=60, tune=60, seed=3, progress=False)
    names = STAN_PARAMS[name]
    p = post.idata.posterior
    assert set(p.data_vars) == {"mu_pr", "sigma", *names, *(f"mu_{k}" for k in names)}
    assert list(p["parameter"].values) == list(names)
    assert list(p["subject"].values) == SUBJECT_IDS
    for k in names:
        assert dict(p[k].sizes) == {"chain": 1, "draw": 60, "subject": N_SUBJECTS}
        np.testing.assert_allclose(p[f"mu_{k}"], STAN_TRANSFORM[k](p["mu_pr"].sel(parameter=k)), rtol=1e-12)
    assert float(p["pi"].min()) > 0 and float(p["pi"].max()) < 5
    assert float(p["w"].min()) > 0 and float(p["w"].max()) < 1
    # log_lik is the Stan model block's likelihood at the draw's parameters
    ll = post.idata.log_likelihood["log_lik"]
    for i, sid in enumerate(SUBJECT_IDS[:2]):
        values = {k: float(p[k].sel(subject=sid)[0, 41]) for k in names}
        expected = stan_subject_log_lik(name, values, files[i])
        assert float(ll.sel(subject=sid)[0, 41]) == pytest.approx(expected, rel=1e-10)
    assert post.idata.observed_data["choice"].sizes["obs"] == 2 * N_SUBJECTS * N_TRIALS
    params = post.params
    model_names = hierarchical_model(name).model.param_names
    assert list(params.columns) == ["subject", *model_names, "n_choices", "model"]
    np.testing.assert_allclose(params["pers"], p["pi"].mean(("chain", "draw")).values)

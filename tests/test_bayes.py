"""Full Bayes: the hierarchical log density against a plain numpy transcription of hBayesDM's Stan model,
its gradient against finite differences, and short nutpie runs (layout of the InferenceData, LOO,
reproducibility, parallel chains, the diagnostics' warning)."""

from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dopasoft.fitting import (
    PosteriorResult,
    negative_log_likelihood,
    read_hbayesdm,
    replay,
    sample,
    simulate_choices,
    to_transitions,
)
from dopasoft.fitting.bayes import LogDensity, hierarchical_model
from dopasoft.fitting.bayes.result import import_arviz

az = import_arviz()


# -- hBayesDM's bandit2arm_delta, transcribed from its Stan file (commons/stan_files/bandit2arm_delta.stan)
def phi_approx(x):
    return 1.0 / (1.0 + np.exp(-(0.07056 * x**3 + 1.5976 * x)))


def stan_log_lik(choice, outcome, A, tau):
    """Sum over trials of categorical_logit_lpmf(choice | tau * ev); ev starts at 0,
    ev[choice] += A * (outcome - ev[choice]). ``choice`` is 1-based, as in the Stan file."""
    ev = np.zeros(2)
    total = 0.0
    for c, o in zip(choice, outcome, strict=True):
        logits = tau * ev
        total += logits[c - 1] - np.logaddexp(logits[0], logits[1])
        ev[c - 1] += A * (o - ev[c - 1])
    return total


def stan_log_density(x, files):
    """The Stan model block with every normalising constant: mu_pr ~ N(0, 1), sigma ~ N+(0, 0.2) sampled
    on the log scale (Jacobian log sigma), A_pr, tau_pr ~ N(0, 1), the likelihood of every subject."""
    n = len(files)
    mu_pr, log_sigma, raw = x[:2], x[2:4], x[4:].reshape(n, 2)
    sigma = np.exp(log_sigma)
    A = phi_approx(mu_pr[0] + sigma[0] * raw[:, 0])
    tau = 5.0 * phi_approx(mu_pr[1] + sigma[1] * raw[:, 1])
    lp = stats.norm.logpdf(mu_pr, 0.0, 1.0).sum()
    lp += (math.log(2.0) + stats.norm.logpdf(sigma, 0.0, 0.2)).sum() + log_sigma.sum()
    lp += stats.norm.logpdf(raw).sum()
    for i, (choice, outcome) in enumerate(files):
        lp += stan_log_lik(choice, outcome, A[i], tau[i])
    return lp


def hbayesdm_generate(n_subjects, n_trials, seed):
    """bandit2arm_delta's generative model: subjects from the group, choices softmax(tau * ev)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        A = phi_approx(-0.3 + 0.3 * rng.normal())
        tau = 5.0 * phi_approx(0.5 + 0.3 * rng.normal())
        ev = np.zeros(2)
        p_reward = (0.7, 0.3)
        for t in range(n_trials):
            p1 = 1.0 / (1.0 + np.exp(-tau * (ev[1] - ev[0])))
            c = int(rng.random() < p1)
            o = float(rng.random() < p_reward[c])
            rows.append((f"{100 + s}", t + 1, c + 1, o))
            ev[c] += A * (o - ev[c])
    return pd.DataFrame(rows, columns=["subjID", "trial", "choice", "outcome"])


@pytest.fixture(scope="module")
def hbayesdm_file(tmp_path_factory):
    df = hbayesdm_generate(5, 40, seed=3)
    path = tmp_path_factory.mktemp("hbayesdm") / "bandit_2arm.txt"
    df.to_csv(path, sep="\t", index=False)
    per_subject = [
        (g["choice"].to_numpy(), g["outcome"].to_numpy()) for _, g in df.groupby("subjID", sort=False)
    ]
    return read_hbayesdm(path), per_subject


def test_dopasoft_nll_is_the_stan_log_likelihood(hbayesdm_file):
    data, files = hbayesdm_file
    rng = np.random.default_rng(0)
    A = rng.uniform(0.05, 0.95, len(files))
    tau = rng.uniform(0.2, 5.0, len(files))
    params = pd.DataFrame({"subject": pd.unique(data["subject"]), "alpha": A, "tau": 1 / tau})
    nll = negative_log_likelihood(data, "soft-q", params)
    expected = [-stan_log_lik(c, o, A[i], tau[i]) for i, (c, o) in enumerate(files)]
    np.testing.assert_allclose(np.asarray(nll, dtype=float), expected, rtol=1e-12, atol=1e-10)


def test_log_density_is_the_stan_model(hbayesdm_file):
    data, files = hbayesdm_file
    d = LogDensity(hierarchical_model("bandit2arm_delta"), to_transitions(data))
    assert d.n_dim == 4 + 2 * len(files)
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = rng.normal(0.0, 0.8, d.n_dim)
        lp, _ = d.logp_grad(x)
        assert lp == pytest.approx(stan_log_density(x, files), rel=1e-12, abs=1e-9)


def _central_differences(f, x, h=1e-6):
    return np.array([(f(x + e) - f(x - e)) / (2 * h) for e in np.eye(x.size) * h])


@pytest.mark.parametrize("model", ["bandit2arm_delta", "soft-q+kappa", "soft-q+valence"])
def test_gradient_is_central_differences(hbayesdm_file, model):
    data, _ = hbayesdm_file
    d = LogDensity(hierarchical_model(model), to_transitions(data))
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = d.initial_point(int(rng.integers(1000))) + rng.normal(0.0, 0.3, d.n_dim)
        lp, grad = d.logp_grad(x)
        fd = _central_differences(lambda y: d.logp_grad(y)[0], x)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(fd).max()))


@pytest.mark.parametrize("model", ["bandit2arm_delta", "soft-q+kappa", "soft-q-lambda+valence"])
def test_compiled_density_is_the_numpy_one(hbayesdm_file, model):
    data, _ = hbayesdm_file
    d = LogDensity(hierarchical_model(model), to_transitions(data))
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.normal(0.0, 0.7, d.n_dim)
        lp, grad = d.logp_grad(x)
        lp_np, grad_np = d.logp_grad_numpy(x)
        assert lp == pytest.approx(lp_np, rel=1e-12)
        np.testing.assert_allclose(grad, grad_np, rtol=1e-10, atol=1e-10)
    p = d.n_params
    if model == "bandit2arm_delta":
        # tau = 5 Phi_approx(-40) = 0 is in hBayesDM's domain (softmax(0 * ev): every choice 1/2)
        x[1], x[p + 1] = -40.0, math.log(1e-3)
        lp, lp_np = d.logp_grad(x)[0], d.logp_grad_numpy(x)[0]
        assert np.isfinite(lp) and lp == pytest.approx(lp_np, rel=1e-12)
    else:
        # a temperature exp(-800) = 0 leaves its domain (0, inf): the point is rejected by both paths
        j = d.hmodel.names.index("tau")
        x[j], x[p + j] = -800.0, math.log(1e-3)
        assert d.logp_grad(x)[0] == -math.inf and d.logp_grad_numpy(x)[0] == -math.inf
        assert not d.logp_grad(x)[1].any()


def test_soft_q_default_prior_density():
    """Generic Soft Q models: Φ≈ on [0, 1] parameters, exp on temperatures, identity on kappa, the
    default group priors, and dopasoft's likelihood at the transformed parameters."""
    data = simulate_choices(
        "soft-q+kappa", {"alpha": 0.3, "tau": 0.2, "kappa": 0.5}, task="bandit", n_subjects=3, n_trials=30
    )
    tr = to_transitions(data)
    hm = hierarchical_model("soft-q+kappa", prior={"kappa": {"mu": (0.5, 2.0), "sigma": 0.7}})
    d = LogDensity(hm, tr)
    x = np.random.default_rng(4).normal(0.0, 0.5, d.n_dim)
    mu, log_sigma, eta = x[:3], x[3:6], x[6:].reshape(3, 3)
    sigma = np.exp(log_sigma)
    z = mu + sigma * eta
    theta = np.column_stack([phi_approx(z[:, 0]), np.exp(z[:, 1]), z[:, 2]])
    params = pd.DataFrame(
        {"subject": list(tr.subjects), "alpha": theta[:, 0], "tau": theta[:, 1], "kappa": theta[:, 2]}
    )
    loglik = -np.sum(negative_log_likelihood(data, "soft-q+kappa", params))
    means, sds, scales = (
        np.array([0.0, math.log(0.2), 0.5]),
        np.array([1.0, 1.0, 2.0]),
        np.array([0.2, 0.5, 0.7]),
    )
    expected = (
        stats.norm.logpdf(mu, means, sds).sum()
        + (math.log(2.0) + stats.norm.logpdf(sigma, 0.0, scales)).sum()
        + log_sigma.sum()
        + stats.norm.logpdf(eta).sum()
        + loglik
    )
    assert d.logp_grad(x)[0] == pytest.approx(expected, rel=1e-12)


def test_prior_and_model_errors():
    with pytest.raises(ValueError, match="unknown parameter 'beta'"):
        hierarchical_model("bandit2arm_delta", prior={"beta": {"mu": (0, 1)}})
    with pytest.raises(ValueError, match="positive"):
        hierarchical_model("soft-q", prior={"tau": {"sigma": -1}})
    with pytest.raises(ValueError, match="hBayesDM models"):
        hierarchical_model("no-such-model")
    with pytest.raises(ValueError, match="Soft Q models"):
        hierarchical_model("daw-hybrid")


def test_missing_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nutpie", None)
    data = simulate_choices("soft-q", {"alpha": 0.3, "tau": 0.2}, task="bandit", n_subjects=2, n_trials=10)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[bayes\]'"):
        sample(data, "bandit2arm_delta", draws=10, tune=10, progress=False)


# -- sampling ------------------------------------------------------------------------------------------
N_SUBJECTS, N_TRIALS = 8, 60


@pytest.fixture(scope="module")
def cohort():
    return hbayesdm_generate(N_SUBJECTS, N_TRIALS, seed=11)


def _run(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 2 x 200 draws may fail the ESS check
        return sample(data, "bandit2arm_delta", chains=2, draws=200, tune=200, seed=5, progress=False, **kw)


@pytest.fixture(scope="module")
def posterior(cohort):
    return _run(cohort, cores=2)


def test_inference_data_layout(posterior, cohort):
    assert isinstance(posterior, PosteriorResult)
    idata = posterior.idata
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data"):
        assert group in idata.groups()
    post = idata.posterior
    assert set(post.data_vars) == {"mu_pr", "sigma", "mu_A", "mu_tau", "A", "tau"}
    assert dict(post["A"].sizes) == {"chain": 2, "draw": 200, "subject": N_SUBJECTS}
    assert list(post["subject"].values) == list(pd.unique(cohort["subjID"]))
    assert list(post["parameter"].values) == ["A", "tau"]
    assert post["sigma"].dims == ("chain", "draw", "parameter")
    # group means as hBayesDM reports them
    np.testing.assert_allclose(post["mu_A"], phi_approx(post["mu_pr"].sel(parameter="A")), rtol=1e-12)
    np.testing.assert_allclose(post["mu_tau"], 5 * phi_approx(post["mu_pr"].sel(parameter="tau")), rtol=1e-12)
    assert float(post["A"].min()) > 0 and float(post["A"].max()) < 1
    assert float(post["tau"].min()) > 0 and float(post["tau"].max()) < 5
    for name in ("diverging", "depth", "maxdepth_reached", "energy", "step_size"):
        assert name in idata.sample_stats
    obs = idata.observed_data["choice"]
    assert obs.sizes["obs"] == N_SUBJECTS * N_TRIALS
    np.testing.assert_array_equal(obs.values, cohort["choice"].to_numpy() - 1)
    assert list(obs["obs_subject"].values[:2]) == [cohort["subjID"].iloc[0]] * 2


def test_log_likelihood_is_the_stan_log_lik(posterior, cohort):
    ll = posterior.idata.log_likelihood
    per_subject = ll["choice"].groupby("obs_subject").sum().rename(obs_subject="subject")
    np.testing.assert_allclose(
        per_subject.sel(subject=ll["subject"]).values, ll["log_lik"].values, rtol=1e-10
    )
    post = posterior.idata.posterior
    sid = str(post["subject"].values[3])
    g = cohort[cohort["subjID"] == sid]
    A, tau = float(post["A"].sel(subject=sid)[1, 17]), float(post["tau"].sel(subject=sid)[1, 17])
    expected = stan_log_lik(g["choice"].to_numpy(), g["outcome"].to_numpy(), A, tau)
    assert float(ll["log_lik"].sel(subject=sid)[1, 17]) == pytest.approx(expected, rel=1e-10)


def test_summary_loo_params_diagnostics(posterior, cohort):
    table = posterior.summary()
    for col in ("mean", "sd", "hdi_3%", "hdi_97%", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"):
        assert col in table.columns
    assert "mu_A" in table.index and f"A[{posterior.idata.posterior['subject'].values[0]}]" in table.index
    assert az.summary(posterior.idata).shape == table.shape
    loo_trial, loo_subject = posterior.loo(), posterior.loo(per="subject")
    assert loo_trial.n_data_points == N_SUBJECTS * N_TRIALS and loo_subject.n_data_points == N_SUBJECTS
    assert np.isfinite(loo_trial.elpd_loo) and np.isfinite(loo_subject.elpd_loo)
    assert np.isfinite(az.loo(posterior.idata, var_name="choice").elpd_loo)
    params = posterior.params
    assert list(params.columns) == ["subject", "A", "tau", "n_choices", "model"]
    post = posterior.idata.posterior
    np.testing.assert_allclose(params["A"], post["A"].mean(("chain", "draw")).values)
    np.testing.assert_allclose(params["tau"], post["tau"].mean(("chain", "draw")).values)
    signals = replay(cohort, None, params)  # the table is a fits table: replay reads it
    assert len(signals) == N_SUBJECTS * N_TRIALS
    diag = posterior.diagnostics
    for key in ("divergences", "treedepth_hits", "ebfmi_min", "rhat_max", "ess_bulk_min", "failed"):
        assert key in diag
    assert diag["divergences"] == int(posterior.idata.sample_stats["diverging"].sum())


def test_same_seed_same_draws_sequential_or_parallel(posterior, cohort):
    """Exact on purpose: each chain evaluates the same compiled log density on its own, in one thread,
    with no reduction across threads, so the thread a chain runs in cannot change a bit."""
    again = _run(cohort, cores=1)  # the two chains one after the other
    np.testing.assert_array_equal(again.idata.posterior["A"].values, posterior.idata.posterior["A"].values)
    np.testing.assert_array_equal(
        again.idata.posterior["sigma"].values, posterior.idata.posterior["sigma"].values
    )


def test_failed_checks_warn(cohort):
    with pytest.warns(UserWarning, match=r"bulk ESS \d+ < 400") as record:
        bad = sample(cohort, "bandit2arm_delta", chains=2, draws=20, tune=5, seed=0, progress=False)
    assert bad.diagnostics["failed"]
    assert len([w for w in record if "sample('bandit2arm_delta')" in str(w.message)]) == len(
        bad.diagnostics["failed"]
    )


def test_soft_q_model_samples(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        post = sample(cohort, "soft-q+kappa", chains=1, draws=50, tune=50, seed=2, progress=False)
    assert {"mu_alpha", "sigma_alpha", "mu_tau", "sigma_tau", "mu_kappa", "sigma_kappa", "kappa"} <= set(
        post.idata.posterior.data_vars
    )
    assert list(post.params.columns) == ["subject", "alpha", "tau", "kappa", "n_choices", "model"]
    assert post.params["model"].iloc[0] == "soft-q+kappa"


def test_default_cores_follow_the_cost_of_an_evaluation():
    """A cheap log density runs its chains in one thread (a second saves no wall time); a costly one
    gets a thread per chain, up to the processors."""
    import time as _time

    from dopasoft.fitting.bayes import sampling

    class Density:
        def __init__(self, seconds):
            self.seconds = seconds

        def initial_point(self, seed):
            return np.zeros(3)

        def logp_grad(self, x):
            _time.sleep(self.seconds)
            return 0.0, np.zeros_like(x)

    processors = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    assert sampling._default_cores(Density(0.0), 4, 0) == 1
    assert sampling._default_cores(Density(2e-3), 4, 0) == max(1, min(4, processors))

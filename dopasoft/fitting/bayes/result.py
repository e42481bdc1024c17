"""The result of :func:`dopasoft.fitting.sample`: the posterior as ArviZ ``InferenceData`` and its checks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from dopasoft.fitting.bayes.density import LogDensity
from dopasoft.fitting.bayes.models import HierModel

__all__ = ["PosteriorResult", "RHAT_MAX", "ESS_MIN", "BFMI_MIN", "import_arviz"]

#: the checks of :attr:`PosteriorResult.diagnostics` (Vehtari et al. 2021; Betancourt 2016)
RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3
#: posterior draws replayed at once when computing the log-likelihoods
LOGLIK_CHUNK = 256

_MISSING = "full Bayes needs nutpie and arviz: pip install -e '.[bayes]' (or pip install nutpie arviz)"


def import_arviz():
    """ArviZ, imported without its notice about a coming refactor; ``ImportError`` saying how to
    install the ``[bayes]`` extra when it is missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import arviz
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return arviz


def _posterior_vars(density: LogDensity, x: NDArray[np.float64]) -> tuple[dict, dict]:
    """Posterior variables from the draws ``x`` (chain, draw, n_dim): ``{name: (dims, values)}``."""
    hm = density.hmodel
    mu, log_sigma, _ = density.split(x)
    sigma = np.exp(log_sigma)
    _, v, _ = density.natural(x)
    out: dict[str, tuple] = {}
    if hm.hbayesdm:
        out["mu_pr"] = (("chain", "draw", "parameter"), mu.copy())
        out["sigma"] = (("chain", "draw", "parameter"), sigma)
    for j, p in enumerate(hm.params):
        out[f"mu_{p.name}"] = (("chain", "draw"), p.to_natural(mu[..., j]))
        if not hm.hbayesdm:
            out[f"sigma_{p.name}"] = (("chain", "draw"), sigma[..., j])
    cov = density.covariates
    if cov is not None:  # the regression's coefficients, unconstrained scale
        B = density.coefficients(x)
        for j in cov.params:
            out[f"beta_{hm.params[j].name}"] = (("chain", "draw", "covariate"), B[..., j, :])
    for j, p in enumerate(hm.params):
        out[p.name] = (("chain", "draw", "subject"), v[..., j])
    coords = {"parameter": list(hm.names)} if hm.hbayesdm else {}
    if cov is not None:
        coords["covariate"] = list(cov.names)
    return out, coords


def _log_likelihood(density: LogDensity, x: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """Per-choice log p_choice (chain, draw, n_obs) and per-subject log-likelihood (chain, draw, S),
    from the model's replay at every draw, ``LOGLIK_CHUNK`` draws per batch."""
    tr, model = density.tr, density.model
    n_chain, n_draw = x.shape[:2]
    flat = x.reshape(n_chain * n_draw, -1)
    _, _, theta = density.natural(flat)  # (D, S, P)
    theta = density.model_theta(theta)
    s = tr.n_subjects
    mask = np.arange(tr.state.shape[1])[None, :] < tr.n_steps[:, None]
    mask &= tr.is_choice
    n_obs = int(mask.sum())
    chunk = max(1, min(LOGLIK_CHUNK, flat.shape[0]))
    rep = tr.take(np.tile(np.arange(s), chunk))
    rep_mask = (np.arange(rep.state.shape[1])[None, :] < rep.n_steps[:, None]) & rep.is_choice
    per_obs = np.empty((flat.shape[0], n_obs))
    per_subj = np.empty((flat.shape[0], s))
    for lo in range(0, flat.shape[0], chunk):
        hi = min(lo + chunk, flat.shape[0])
        block = np.empty((chunk, s, theta.shape[-1]))
        block[: hi - lo] = theta[lo:hi]
        block[hi - lo :] = theta[lo]  # padding, discarded
        signals, nll = model.replay_signals(rep, block.reshape(chunk * s, -1))
        logp = np.log(signals["p_choice"][rep_mask]).reshape(chunk, n_obs)
        per_obs[lo:hi] = logp[: hi - lo]
        per_subj[lo:hi] = -nll.reshape(chunk, s)[: hi - lo]
    return per_obs.reshape(n_chain, n_draw, n_obs), per_subj.reshape(n_chain, n_draw, s)


def build_idata(density: LogDensity, x: NDArray[np.float64], sample_stats, attrs: dict[str, Any]):
    """The :class:`arviz.InferenceData` of :class:`PosteriorResult` from the unconstrained draws ``x``
    (chain, draw, n_dim) and nutpie's ``sample_stats`` dataset.

    With group covariates the posterior also holds ``beta_<p>`` for each parameter ``p`` that has
    them: the coefficients ``B`` of ``z_s = μ + B x_s + σ ⊙ η_s`` over dimension ``covariate`` (the
    covariate names), on the unconstrained scale (the probit scale of ``Φ≈`` parameters, the log
    scale of ``exp`` ones); ``mu_<p>`` is then the transform of ``μ``, the group median at
    covariates 0 (the baseline group)."""
    az = import_arviz()
    import xarray as xr

    tr = density.tr
    n_chain, n_draw = x.shape[:2]
    base = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    subjects = np.asarray(tr.subjects, dtype=object)
    variables, coords = _posterior_vars(density, x)
    posterior = xr.Dataset(
        {k: xr.DataArray(v, dims=d) for k, (d, v) in variables.items()},
        coords={**base, "subject": subjects, **coords},
        attrs=attrs,
    )
    mask = (np.arange(tr.state.shape[1])[None, :] < tr.n_steps[:, None]) & tr.is_choice
    rows, cols = np.nonzero(mask)
    trial = tr.trial[rows, cols] if tr.trial is not None else cols + 1.0
    obs_coords = {
        "obs": np.arange(rows.size),
        "obs_subject": ("obs", subjects[rows]),
        "obs_trial": ("obs", trial),
    }
    per_obs, per_subj = _log_likelihood(density, x)
    log_likelihood = xr.Dataset(
        {
            "choice": xr.DataArray(per_obs, dims=("chain", "draw", "obs")),
            "log_lik": xr.DataArray(per_subj, dims=("chain", "draw", "subject")),
        },
        coords={**base, **obs_coords, "subject": subjects},
    )
    observed = xr.Dataset(
        {"choice": xr.DataArray(tr.action[rows, cols].astype(np.int64), dims=("obs",))}, coords=obs_coords
    )
    stats = sample_stats.assign_coords(base) if sample_stats is not None else None
    groups = dict(posterior=posterior, log_likelihood=log_likelihood, observed_data=observed)
    if stats is not None:
        groups["sample_stats"] = stats
    return az.InferenceData(**groups)


@dataclass
class PosteriorResult:
    """Result of :func:`dopasoft.fitting.sample`.

    Attributes
    ----------
    idata : arviz.InferenceData
        ``posterior``: group means ``mu_<p>`` on the natural scale (hBayesDM's ``mu_A = Φ≈(μ_A)``,
        ``mu_tau = 5 Φ≈(μ_tau)``), group sds (``sigma_<p>``; hBayesDM models: ``sigma`` and
        ``mu_pr`` over dimension ``parameter``, as hBayesDM reports them) on the unconstrained scale,
        and every subject's parameters on the natural scale over dimension ``subject`` (the data's
        subject IDs). ``sample_stats``: nutpie's (``diverging``, ``depth``, ``maxdepth_reached``,
        ``energy``, ``step_size``, ``n_steps``, ...). ``log_likelihood``: ``choice`` (one value per
        observed choice, dimension ``obs`` with coordinates ``obs_subject``, ``obs_trial``: for
        trial-wise PSIS-LOO) and ``log_lik`` (per subject, hBayesDM's convention).
        ``observed_data``: ``choice`` (0-based actions).
    model : HierModel
    compile_seconds, sampling_seconds : float
        CPU seconds (all threads) to prepare the model (compilation, first evaluation) and to sample
        (tuning and draws; the log-likelihoods after sampling not included).

    Examples
    --------
    >>> import warnings
    >>> from dopasoft.fitting import sample, simulate_choices
    >>> data = simulate_choices("soft-q", {"alpha": 0.3, "tau": 0.2}, task="bandit", n_subjects=2, n_trials=20, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # so few draws fail the sampler's checks
    ...     post = sample(data, "bandit2arm_delta", chains=1, draws=10, tune=10, progress=False)
    >>> post.idata.posterior.sizes["draw"], list(post.params["subject"])
    (10, ['sub000', 'sub001'])
    """

    idata: Any
    model: HierModel
    compile_seconds: float = 0.0
    sampling_seconds: float = 0.0
    _density: LogDensity | None = field(default=None, repr=False)
    _diagnostics: dict | None = field(default=None, repr=False)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The subject-level variables of the posterior (the reported parameter names)."""
        return self.model.names

    @property
    def subjects(self) -> tuple[str, ...]:
        """The subjects, as labelled on the posterior's ``subject`` dimension."""
        return tuple(str(s) for s in self.idata.posterior.coords["subject"].values)

    def summary(self, var_names: list[str] | None = None, **kwargs: Any) -> pd.DataFrame:
        """ArviZ's summary of the posterior: mean, sd, hdi_3%, hdi_97%, mcse_mean, mcse_sd, ess_bulk,
        ess_tail, r_hat, one row per scalar (``A[s1]``...); ``kwargs`` go to :func:`arviz.summary`."""
        az = import_arviz()
        return az.summary(self.idata, var_names=var_names, **kwargs)

    def draw_params(self, n: int, seed: int | np.random.Generator = 0) -> list[pd.DataFrame]:
        """``n`` posterior draws (chain and draw picked at random, with replacement), each as a table of
        every subject's choice-model parameters in the layout of :attr:`params` (dopasoft's names
        and scales): what a posterior predictive simulation runs on. The subjects of one table come
        from the same draw, so it keeps the posterior's dependence between subjects."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        post = self.idata.posterior
        n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
        subjects = np.asarray(post["subject"].values, dtype=object)
        values = {p.model_param: p.to_model(post[p.name].values) for p in self.model.params}
        tables = []
        for _ in range(int(n)):
            c, d = int(rng.integers(n_chain)), int(rng.integers(n_draw))
            table = pd.DataFrame({"subject": subjects, **{k: v[c, d] for k, v in values.items()}})
            tables.append(table[["subject", *self.model.model.param_names]])
        return tables

    @property
    def params(self) -> pd.DataFrame:
        """Posterior means of every subject's choice-model parameters in the layout of a fits table:
        ``subject``, the model's parameters (dopasoft's names and scales: for ``bandit2arm_delta``,
        ``alpha = A`` and the temperature ``tau = 1 / tau_hBayesDM``, averaged over the draws),
        ``n_choices`` and ``model`` (the choice model's spec), so that
        :func:`dopasoft.fitting.replay` reads it."""
        d = self._density
        post = self.idata.posterior
        cols = {"subject": np.asarray(post["subject"].values, dtype=object)}
        for p in self.model.params:
            v = post[p.name].values
            cols[p.model_param] = p.to_model(v).mean(axis=(0, 1))
        table = pd.DataFrame(cols)
        table = table[["subject", *self.model.model.param_names]]
        table["n_choices"] = d.tr.n_choices if d is not None else np.nan
        table["model"] = self.model.model.spec
        return table

    @property
    def diagnostics(self) -> dict[str, Any]:
        """``divergences``, ``treedepth_hits`` (draws that reached the maximum tree depth),
        ``ebfmi_min`` (lowest E-BFMI of a chain), ``rhat_max`` and ``ess_bulk_min``, ``ess_tail_min``
        over all group and subject parameters, with the variables where the worst values are
        (``rhat_max_at``, ``ess_bulk_min_at``), and ``failed``: the checks that failed."""
        if self._diagnostics is None:
            self._diagnostics = _diagnose(self.idata)
        return self._diagnostics

    def loo(self, per: str = "trial", **kwargs: Any):
        """PSIS-LOO (:func:`arviz.loo`) on the per-choice (``per="trial"``) or per-subject
        (``per="subject"``, hBayesDM's ``log_lik``) log-likelihoods."""
        if per not in ("trial", "subject"):
            raise ValueError(f"per must be 'trial' or 'subject', got {per!r}")
        az = import_arviz()
        return az.loo(self.idata, var_name="choice" if per == "trial" else "log_lik", **kwargs)

    def check(self, stacklevel: int = 2) -> list[str]:
        """Warn (``UserWarning``) naming each failed check of :attr:`diagnostics`; return them."""
        failed = self.diagnostics["failed"]
        for text in failed:
            warnings.warn(f"sample({self.model.name!r}): {text}", stacklevel=stacklevel + 1)
        return failed


def _worst(values: dict[str, NDArray], pick) -> tuple[float, str]:
    best, where = np.nan, ""
    for name, arr in values.items():
        arr = np.asarray(arr, dtype=float)
        if arr.size == 0 or np.isnan(arr).all():
            continue
        k = int(pick(np.where(np.isnan(arr), np.nan, arr).ravel()))
        val = float(arr.ravel()[k])
        if np.isnan(best) or (val > best if pick is np.nanargmax else val < best):
            best, where = val, name
    return best, where


def _diagnose(idata) -> dict[str, Any]:
    az = import_arviz()
    post = idata.posterior
    names = list(post.data_vars)
    stats = idata.sample_stats
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    hits = int(stats["maxdepth_reached"].sum()) if "maxdepth_reached" in stats else 0
    n_chain = post.sizes["chain"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bfmi = az.bfmi(idata) if "energy" in stats else np.array([np.nan])
        rhat = az.rhat(post) if n_chain > 1 else None
        ess_bulk = az.ess(post, method="bulk")
        ess_tail = az.ess(post, method="tail")
    rhat_max, rhat_at = _worst({k: rhat[k].values for k in names}, np.nanargmax) if rhat else (np.nan, "")
    bulk_min, bulk_at = _worst({k: ess_bulk[k].values for k in names}, np.nanargmin)
    tail_min, _ = _worst({k: ess_tail[k].values for k in names}, np.nanargmin)
    ebfmi = float(np.nanmin(bfmi)) if np.size(bfmi) else np.nan
    failed = []
    if div:
        failed.append(f"{div} divergent transition(s) after tuning")
    if rhat_max > RHAT_MAX:
        failed.append(f"R-hat {rhat_max:.3f} > {RHAT_MAX} ({rhat_at})")
    if bulk_min < ESS_MIN:
        failed.append(f"bulk ESS {bulk_min:.0f} < {ESS_MIN} ({bulk_at})")
    if ebfmi < BFMI_MIN:
        failed.append(f"E-BFMI {ebfmi:.2f} < {BFMI_MIN} in a chain")
    return dict(
        divergences=div,
        treedepth_hits=hits,
        ebfmi_min=ebfmi,
        rhat_max=rhat_max,
        rhat_max_at=rhat_at,
        ess_bulk_min=bulk_min,
        ess_bulk_min_at=bulk_at,
        ess_tail_min=tail_min,
        failed=failed,
    )

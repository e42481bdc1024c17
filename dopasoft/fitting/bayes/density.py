r"""The joint log density of a hierarchical model and its gradient, over one flat vector.

The vector is ``x = (μ, log σ, η, β)``: ``P`` group means, ``P`` log group sds, ``S × P`` standardised
subject effects (subject-major) and, with group covariates ``X`` (S × k,
:class:`~dopasoft.fitting.bayes.covariates.Covariates`), the coefficients ``β`` of the chosen
parameters (parameter-major; none without covariates). With ``z_s = μ + B x_s + σ ⊙ η_s``
(``B`` the ``P × k`` matrix of ``β``, zero in the rows of parameters without covariates),
``v_s = T(z_s)``, ``θ_s = g(v_s)`` (:class:`~dopasoft.fitting.bayes.models.HierParam`),

.. math::

    \log p(x) = \sum_p \big[\log N(\mu_p | m_p, s_p) + \log N^+(\sigma_p | 0, h_p) + \log\sigma_p\big]
              + \sum_{s,p} \log N(\eta_{sp} | 0, 1) + \sum_b \log N(\beta_b | 0, 1)
              - \sum_s \mathrm{NLL}_s(\theta_s),

normalising constants included, ``log σ_p`` the Jacobian of sampling ``σ`` on the log scale
(``N⁺(σ_p | 0, h_p)`` is ``Cauchy⁺(σ_p | 0, h_p)`` for parameters declared so, on the numpy path). The
gradient chains ``∂NLL/∂θ`` of the choice model's compiled forward-mode replay (one call for all
subjects per evaluation) through ``g``, ``T``, the non-centring, the regression
(``∂/∂B = Σ_s (∂/∂z_s) x_sᵀ``) and the priors.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

from dopasoft.fitting.bayes.covariates import Covariates
from dopasoft.fitting.bayes.models import HierModel
from dopasoft.fitting.data import Transitions

__all__ = ["LogDensity"]

_LOG_2PI = math.log(2.0 * math.pi)
_TRANSFORMS = {"phi": 0, "exp": 1, "identity": 2}
_LINKS = {"identity": 0, "reciprocal": 1}
_ZERO = np.int64(0)


@njit(cache=True, nogil=True)
def _subject_params(x, hier, prior, domain, cov, source, constant, dtheta, full):
    """The transforms of :meth:`LogDensity.logp_grad`, compiled (``cov = (X, bpar, bcol)``: coefficient
    ``b`` multiplies covariate ``bcol[b]`` in parameter ``bpar[b]``): every subject's kernel columns
    ``full`` (S, columns; ``constant[c]`` where ``source[c] < 0``) and ``dθ/dz`` in ``dtheta`` (S, P).
    Returns ``False`` where a parameter leaves its domain or a value is not finite."""
    kind, link, order = hier
    scale, lower = prior[0], prior[1]
    dom_lo, dom_hi, open_lo, open_hi = domain
    n_par = kind.shape[0]
    n_sub = dtheta.shape[0]
    cx, bpar, bcol = cov
    n_base = 2 * n_par + n_sub * n_par
    theta_m = np.empty((n_sub, n_par))
    shift = np.zeros((n_sub, n_par))
    for b in range(bpar.shape[0]):
        for s in range(n_sub):
            shift[s, bpar[b]] += x[n_base + b] * cx[s, bcol[b]]
    ok = True
    for s in range(n_sub):
        for j in range(n_par):
            sigma = math.exp(x[n_par + j])
            zz = x[j] + shift[s, j] + sigma * x[2 * n_par + s * n_par + j]
            if kind[j] == 0:
                u = (0.07056 * zz * zz + 1.5976) * zz
                q = 0.5 * (1.0 + math.tanh(0.5 * u))
                v = lower[j] + scale[j] * q
                dv = scale[j] * q * (1.0 - q) * (3.0 * 0.07056 * zz * zz + 1.5976)
            elif kind[j] == 1:
                e = math.exp(min(zz, 700.0))
                v = lower[j] + e
                dv = e
            else:
                v = zz
                dv = 1.0
            if link[j] == 1:
                th = 1.0 / v if v != 0.0 else math.inf
                dv *= -th * th
            else:
                th = v
            dtheta[s, j] = dv
            k = order[j]
            theta_m[s, k] = th
            above = th > dom_lo[k] if open_lo[k] else th >= dom_lo[k]
            below = th < dom_hi[k] if open_hi[k] else th <= dom_hi[k]
            if not (above and below and math.isfinite(th) and math.isfinite(dv)):
                ok = False
    for s in range(n_sub):
        for c in range(source.shape[0]):
            full[s, c] = theta_m[s, source[c]] if source[c] >= 0 else constant[c]
    return ok


@njit(cache=True, nogil=True)
def _assemble(x, hier, prior, cov, source, dtheta, nll, gcols, grad):
    """``log p`` (returned) and its gradient (written to ``grad``) from the subjects' NLL ``nll`` (S,)
    and its gradient ``gcols`` (S, columns) over kernel columns or tangent directions, ``source[c]``
    the model parameter of column ``c``: the priors, the pull-back onto the model's parameters, the chain rule through ``dtheta``, the non-centring and the covariates'
    regression. ``-inf`` and ``grad = 0`` where a value is not finite."""
    order = hier[2]
    mu_mean, mu_sd, sig_sd, const, cauchy = prior[2], prior[3], prior[4], prior[5], prior[6]
    n_par = order.shape[0]
    n_sub = nll.shape[0]
    n_cols = min(source.shape[0], gcols.shape[1])
    cx, bpar, bcol = cov
    n_base = 2 * n_par + n_sub * n_par
    logp = const
    for b in range(bpar.shape[0]):
        beta = x[n_base + b]
        logp -= 0.5 * beta * beta
        grad[n_base + b] = -beta
    for j in range(n_par):
        r = (x[j] - mu_mean[j]) / mu_sd[j]
        sigma = math.exp(x[n_par + j])
        q = sigma / sig_sd[j]
        if cauchy[j]:  # half-Cauchy(0, h): -log(1 + q^2), along log sigma -2 q^2 / (1 + q^2)
            logp += -0.5 * r * r - math.log1p(q * q) + x[n_par + j]
            grad[n_par + j] = -2.0 * q * q / (1.0 + q * q) + 1.0
        else:  # half-normal(0, h)
            logp += -0.5 * r * r - 0.5 * q * q + x[n_par + j]
            grad[n_par + j] = -q * q + 1.0
        grad[j] = -r / mu_sd[j]
    for s in range(n_sub):
        logp -= nll[s]
        for j in range(n_par):
            g_m = 0.0
            k = order[j]
            for c in range(n_cols):
                if source[c] == k:
                    g_m += gcols[s, c]
            g_z = -g_m * dtheta[s, j]
            eta = x[2 * n_par + s * n_par + j]
            sigma = math.exp(x[n_par + j])
            logp -= 0.5 * eta * eta
            grad[j] += g_z
            grad[n_par + j] += sigma * g_z * eta
            grad[2 * n_par + s * n_par + j] = -eta + g_z * sigma
            for b in range(bpar.shape[0]):
                if bpar[b] == j:
                    grad[n_base + b] += g_z * cx[s, bcol[b]]
    if not math.isfinite(logp):
        grad[:] = 0.0
        return -math.inf
    for i in range(grad.shape[0]):
        if not math.isfinite(grad[i]):
            grad[:] = 0.0
            return -math.inf
    return logp


class LogDensity:
    """``log p(x)`` and its gradient for a :class:`HierModel` on data ``tr``.

    Parameters
    ----------
    hmodel : HierModel
    tr : Transitions
        The subjects' data (every subject is in the model; a subject without choices adds its
        prior only).
    covariates : Covariates, optional
        Group covariates (:func:`dopasoft.fitting.bayes.covariates.design`): their coefficients
        ``β`` (prior ``N(0, 1)``) follow ``η`` in ``x``.

    Notes
    -----
    One evaluation runs the likelihood of all subjects in the calling thread: models with a
    :meth:`~dopasoft.fitting.models.base.ChoiceModel.gradient_block` (every family but the Soft Q
    models with a learned default policy) make three compiled ``nogil`` calls, the transforms, the
    model's block and the chain rule, so several sampler chains evaluate in parallel threads without
    the likelihood's own thread pool; the others go through numpy and the model's ``nll_grad_pairs``.

    Examples
    --------
    >>> import numpy as np
    >>> from dopasoft.fitting import simulate_choices, to_transitions
    >>> from dopasoft.fitting.bayes.models import hierarchical_model
    >>> from dopasoft.fitting.bayes.density import LogDensity
    >>> data = simulate_choices("soft-q", {"alpha": 0.3, "tau": 0.2}, task="bandit", n_subjects=3, n_trials=20)
    >>> d = LogDensity(hierarchical_model("soft-q"), to_transitions(data))
    >>> d.n_dim
    10
    >>> lp, g = d.logp_grad(np.zeros(d.n_dim))
    >>> bool(np.isfinite(lp)), g.shape
    (True, (10,))
    """

    def __init__(self, hmodel: HierModel, tr: Transitions, covariates: Covariates | None = None) -> None:
        self.hmodel = hmodel
        self.tr = tr
        self.model = hmodel.model
        self.n_subjects = tr.n_subjects
        self.n_params = hmodel.n_params
        self.covariates = covariates
        self._n_base = 2 * self.n_params + self.n_subjects * self.n_params
        self.n_coef = covariates.n_coef if covariates is not None else 0
        self.n_dim = self._n_base + self.n_coef
        if covariates is not None:
            if covariates.X.shape[0] != self.n_subjects:
                raise ValueError(f"covariates: {covariates.X.shape[0]} rows for {self.n_subjects} subjects")
            k = len(covariates.names)
            self._cx = np.ascontiguousarray(covariates.X, dtype=float)
            self._bpar = np.repeat(np.asarray(covariates.params, np.int64), k)
            self._bcol = np.tile(np.arange(k, dtype=np.int64), len(covariates.params))
        else:
            self._cx = np.zeros((self.n_subjects, 0))
            self._bpar = np.zeros(0, np.int64)
            self._bcol = np.zeros(0, np.int64)
        self._cov = (self._cx, self._bpar, self._bcol)
        m = self.model
        order = [m.param_names.index(p.model_param) for p in hmodel.params]
        if sorted(order) != list(range(m.n_params)):
            raise ValueError(f"{hmodel.name}: its parameters must be those of model {m.spec!r}")
        self._order = np.asarray(order)  # hierarchical parameter j gives model parameter order[j]
        self._mu_mean = np.array([p.mu_prior[0] for p in hmodel.params])
        self._mu_sd = np.array([p.mu_prior[1] for p in hmodel.params])
        self._sig_sd = np.array([p.sigma_prior for p in hmodel.params])
        self._const = float(
            np.sum(-np.log(self._mu_sd) - 0.5 * _LOG_2PI)
            + np.sum(math.log(2.0) - np.log(self._sig_sd) - 0.5 * _LOG_2PI)
            - 0.5 * _LOG_2PI * (self.n_subjects * self.n_params + self.n_coef)
        )
        # half-Cauchy priors of group sds (hBayesDM's gng, prl_fictitious); the numpy path takes each
        # sd's own prior from HierParam.sigma_log_prior (the independent check of the compiled one)
        self._half_normal = all(p.sigma_family == "normal" for p in hmodel.params)
        cauchy = np.array([p.sigma_family == "cauchy" for p in hmodel.params])
        self._subj = np.arange(self.n_subjects, dtype=np.int64)
        # the compiled path: the model's GIL-free likelihood-and-gradient block between the compiled
        # transforms and chain rule; None: numpy around the model's nll_grad_pairs
        self._block = m.gradient_block(tr)
        if self._block is not None:
            self._source = np.asarray(m.source)
            # the model parameter of each column of the block's gradient
            grad_source = m.source if self._block.grad_source is None else self._block.grad_source
            self._grad_source = np.asarray(grad_source, np.int64)
            self._constant = np.asarray(m.constant, float)
            hp = hmodel.params
            self._hier = (
                np.array([_TRANSFORMS[p.transform] for p in hp], np.int64),
                np.array([_LINKS[p.link] for p in hp], np.int64),
                self._order.astype(np.int64),
            )
            # a half-Cauchy sd's constant log(2 / (pi h)) instead of the half-normal's
            const = self._const + float(np.sum(cauchy * (0.5 * _LOG_2PI - math.log(math.pi))))
            self._prior = (
                np.array([p.scale for p in hp], float),
                np.array([p.lower for p in hp], float),
                self._mu_mean,
                self._mu_sd,
                self._sig_sd,
                const,
                cauchy,
            )
            self._domain = (
                np.array([p.domain[0] for p in m.params], float),
                np.array([p.domain[1] for p in m.params], float),
                np.array([p.open_ends[0] for p in m.params]),
                np.array([p.open_ends[1] for p in m.params]),
            )
            self._source_i = self._source.astype(np.int64)

    def split(self, x: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
        """``(μ (P,), log σ (P,), η (S, P))`` of ``x`` (views; leading axes of ``x`` are kept; the
        covariates' coefficients: :meth:`coefficients`)."""
        x = np.asarray(x, dtype=float)
        p = self.n_params
        lead = x.shape[:-1]
        eta = x[..., 2 * p : self._n_base].reshape(lead + (self.n_subjects, p))
        return x[..., :p], x[..., p : 2 * p], eta

    def coefficients(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``B`` (..., P, k): the covariates' coefficients of ``x`` on the unconstrained scale, zero in
        the rows of parameters without covariates (``k = 0`` without covariates)."""
        x = np.asarray(x, dtype=float)
        k = self._cx.shape[1]
        B = np.zeros(x.shape[:-1] + (self.n_params, k))
        if self.n_coef:
            beta = x[..., self._n_base :].reshape(x.shape[:-1] + (-1, k))
            B[..., list(self.covariates.params), :] = beta
        return B

    def _z(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        mu, log_sigma, eta = self.split(x)
        z = mu[..., None, :] + np.exp(log_sigma)[..., None, :] * eta
        if self.n_coef:
            z = z + np.einsum("sk,...pk->...sp", self._cx, self.coefficients(x))
        return z

    def natural(self, x: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
        """``(z, v, θ)`` per subject, each ``(..., S, P)``: unconstrained, reported and model values
        (``θ`` in the hierarchical parameters' order)."""
        z = self._z(x)
        v = np.empty_like(z)
        theta = np.empty_like(z)
        for j, p in enumerate(self.hmodel.params):
            v[..., j] = p.to_natural(z[..., j])
            theta[..., j] = p.to_model(v[..., j])
        return z, v, theta

    def model_theta(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``θ`` (..., P) in the hierarchical order -> the choice model's parameter order."""
        out = np.empty_like(theta)
        out[..., self._order] = theta
        return out

    def _nll_grad(self, theta_m: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """Per-subject NLL and gradient w.r.t. the model's parameters."""
        return self.model.nll_grad_pairs(self.tr, self._subj, theta_m)

    def logp_grad(self, x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """``(log p(x), ∇ log p(x))``; ``(-inf, 0)`` where a parameter leaves its domain or the
        likelihood is not finite (the sampler rejects the point)."""
        x = np.ascontiguousarray(x, dtype=float)
        if self._block is not None:
            n_sub, blk = self.n_subjects, self._block
            grad = np.empty_like(x)
            dtheta = np.empty((n_sub, self.n_params))
            full = np.empty((n_sub, self._source_i.shape[0]))
            if not _subject_params(
                x,
                self._hier,
                self._prior,
                self._domain,
                self._cov,
                self._source_i,
                self._constant,
                dtheta,
                full,
            ):
                grad[:] = 0.0
                return -math.inf, grad
            nll = np.empty(n_sub)
            gcols = np.empty((n_sub, blk.n_columns))
            blk.function(_ZERO, n_sub, *blk.data, self._subj, full, *blk.variant, nll, gcols, *blk.after)
            lp = _assemble(x, self._hier, self._prior, self._cov, self._grad_source, dtheta, nll, gcols, grad)
            return float(lp), grad
        return self.logp_grad_numpy(x)

    def logp_grad_numpy(self, x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """:meth:`logp_grad` in numpy around the model's ``nll_grad_pairs`` (any model; the compiled
        paths of the Soft Q models and the Daw hybrid are checked against it)."""
        x = np.asarray(x, dtype=float)
        mu, log_sigma, eta = self.split(x)
        sigma = np.exp(log_sigma)
        z = self._z(x)
        v = np.empty_like(z)
        theta = np.empty_like(z)
        dtheta_dz = np.empty_like(z)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for j, p in enumerate(self.hmodel.params):
                v[:, j] = p.to_natural(z[:, j])
                theta[:, j] = p.to_model(v[:, j])
                dtheta_dz[:, j] = p.model_derivative(v[:, j], theta[:, j]) * p.derivative(z[:, j])
        theta_m = self.model_theta(theta)
        fail = (-math.inf, np.zeros_like(x))
        if not np.isfinite(theta_m).all() or not self._in_domain(theta_m):
            return fail
        nll, g_m = self._nll_grad(theta_m)
        with np.errstate(over="ignore", invalid="ignore"):
            g_z = -g_m[:, self._order] * dtheta_dz  # d log-lik / dz, (S, P)
        r = (mu - self._mu_mean) / self._mu_sd
        q = sigma / self._sig_sd
        sig_lp, sig_dlp = -0.5 * q * q, -q * q
        if not self._half_normal:  # each sd's own prior, constants included (replacing the half-normal's)
            sig_lp, sig_dlp = np.empty_like(q), np.empty_like(q)
            for j, par in enumerate(self.hmodel.params):
                lp_j, sig_dlp[j] = par.sigma_log_prior(sigma[j])
                sig_lp[j] = lp_j - (math.log(2.0 / self._sig_sd[j]) - 0.5 * _LOG_2PI)
        logp = self._const - 0.5 * np.sum(r * r) + np.sum(sig_lp + log_sigma) - 0.5 * np.sum(eta * eta)
        logp -= float(np.sum(nll))
        grad = np.empty_like(x)
        p, nb = self.n_params, self._n_base
        grad[:p] = -r / self._mu_sd + g_z.sum(axis=0)
        grad[p : 2 * p] = sig_dlp + 1.0 + sigma * np.sum(g_z * eta, axis=0)
        grad[2 * p : nb] = (-eta + g_z * sigma).ravel()
        if self.n_coef:
            beta = x[nb:]
            logp -= 0.5 * float(beta @ beta)
            g_B = g_z.T @ self._cx  # (P, k): Σ_s (∂/∂z_s) x_sᵀ
            grad[nb:] = -beta + g_B[list(self.covariates.params)].ravel()
        if not (math.isfinite(logp) and np.isfinite(grad).all()):
            return fail
        return float(logp), grad

    def _in_domain(self, theta_m: NDArray[np.float64]) -> bool:
        for j, par in enumerate(self.model.params):
            lo, hi = par.domain
            col = theta_m[:, j]
            above = col > lo if par.open_ends[0] else col >= lo
            below = col < hi if par.open_ends[1] else col <= hi
            if not (above.all() and below.all()):
                return False
        return True

    def initial_point(self, seed: int) -> NDArray[np.float64]:
        """A start: ``μ`` at its prior mean, ``σ`` at half its prior scale, ``η`` and the covariates'
        coefficients near 0, each jittered by ``seed`` (for a chain's start)."""
        rng = np.random.default_rng(seed % 2**63)
        p = self.n_params
        x = np.empty(self.n_dim)
        x[:p] = self._mu_mean + rng.uniform(-0.5, 0.5, p) * np.minimum(self._mu_sd, 1.0)
        x[p : 2 * p] = np.log(0.5 * self._sig_sd) + rng.uniform(-0.5, 0.5, p)
        x[2 * p : self._n_base] = rng.uniform(-0.5, 0.5, self._n_base - 2 * p)
        x[self._n_base :] = rng.uniform(-0.1, 0.1, self.n_coef)
        return x

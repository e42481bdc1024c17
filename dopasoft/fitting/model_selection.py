r"""Random-effects Bayesian model selection with (protected) exceedance probabilities.

The one implementation in dopasoft (``dopasoft.fitting.bms``; :mod:`dopasoft.analysis` re-exports it).

Given log model evidences :math:`L_{nk}` (subject *n*, model *k*; e.g. :math:`-\mathrm{BIC}/2` or
:math:`-\mathrm{AIC}/2`), the population has model frequencies :math:`r \sim \mathrm{Dir}(\alpha_0)`
(:math:`\alpha_0 = 1`) and each subject's model is drawn from :math:`r`. The variational Bayes scheme of
Stephan et al. (2009) alternates

.. math:: g_{nk} \propto \exp\big(L_{nk} + \psi(\alpha_k) - \psi(\textstyle\sum_j \alpha_j)\big),
   \qquad \alpha_k = \alpha_{0k} + \textstyle\sum_n g_{nk}

until :math:`\alpha` converges. The **exceedance probability** :math:`\varphi_k = P(r_k > r_j\ \forall j
\ne k)` under :math:`\mathrm{Dir}(\alpha)` is computed exactly: with :math:`r_k = X_k / \sum_j X_j`,
:math:`X_j \sim \Gamma(\alpha_j, 1)` independent,

.. math:: \varphi_k = \int_0^\infty f_{\Gamma(\alpha_k)}(x) \prod_{j \ne k} F_{\Gamma(\alpha_j)}(x)\, dx .

Rigoux et al. (2014) add the **Bayesian omnibus risk** — the posterior probability that all models
are equally frequent (the null :math:`H_0: r = 1/K`),

.. math:: \mathrm{BOR} = \frac{1}{1 + \exp(F_1 - F_0)}, \qquad
   F_0 = \sum_n \log \frac1K \sum_k e^{L_{nk}},

where :math:`F_1` is the variational free energy of the random-effects model (as in VBA's
``VBA_groupBMC``), and the **protected exceedance probability**
:math:`\tilde\varphi_k = \varphi_k (1 - \mathrm{BOR}) + \mathrm{BOR}/K`.

References
----------
Stephan, K. E., Penny, W. D., Daunizeau, J., Moran, R. J. & Friston, K. J. (2009). Bayesian model
selection for group studies. *NeuroImage* 46, 1004–1017.
Rigoux, L., Stephan, K. E., Friston, K. J. & Daunizeau, J. (2014). Bayesian model selection for group
studies — revisited. *NeuroImage* 84, 971–985.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, special

__all__ = ["BMSResult", "bms", "exceedance_probabilities", "dirichlet_free_energy"]


@dataclass
class BMSResult:
    """Result of :func:`bms`.

    Attributes
    ----------
    models : list of str
    alpha : ndarray (K,)
        Posterior Dirichlet parameters.
    expected_frequency : ndarray (K,)
        Posterior mean model frequencies :math:`\\alpha / \\sum\\alpha`.
    exceedance : ndarray (K,)
        Exceedance probabilities.
    protected_exceedance : ndarray (K,)
        Protected exceedance probabilities (Rigoux et al. 2014).
    bor : float
        Bayesian omnibus risk.
    responsibilities : ndarray (N, K)
        Posterior probability of each model for each subject.
    free_energy, null_free_energy : float
        :math:`F_1` and :math:`F_0`.
    n_iter : int

    Examples
    --------
    >>> import numpy as np
    >>> from dopasoft.fitting import bms
    >>> res = bms(np.array([[-10.0, -20.0], [-12.0, -25.0], [-11.0, -9.0]]), models=["A", "B"])
    >>> res.models, res.expected_frequency.round(2).tolist()
    (['A', 'B'], [0.64, 0.36])
    """

    models: list[str]
    alpha: NDArray[np.float64]
    expected_frequency: NDArray[np.float64]
    exceedance: NDArray[np.float64]
    protected_exceedance: NDArray[np.float64]
    bor: float
    responsibilities: NDArray[np.float64]
    free_energy: float
    null_free_energy: float
    n_iter: int

    def table(self) -> pd.DataFrame:
        """One row per model: ``model, alpha, expected_frequency, exceedance, protected_exceedance``."""
        return pd.DataFrame(
            {
                "model": self.models,
                "alpha": self.alpha,
                "expected_frequency": self.expected_frequency,
                "exceedance": self.exceedance,
                "protected_exceedance": self.protected_exceedance,
                "bor": self.bor,
            }
        )


def exceedance_probabilities(alpha: ArrayLike) -> NDArray[np.float64]:
    """Exceedance probabilities :math:`P(r_k > r_j\\ \\forall j \\ne k)` of a Dirichlet(``alpha``).

    Exact (numerical quadrature of the Gamma representation; the closed form
    ``1 - betainc(a1, a2, 1/2)`` for two models). The result sums to 1.

    Parameters
    ----------
    alpha : array_like
        Dirichlet parameters, one per model (> 0).

    Examples
    --------
    >>> from dopasoft.fitting import exceedance_probabilities
    >>> exceedance_probabilities([1.0, 1.0]).tolist()  # symmetric: no model is more frequent
    [0.5, 0.5]
    """
    a = np.asarray(alpha, dtype=float)
    if a.ndim != 1 or a.size < 2 or np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must be a vector of at least two positive numbers, got {alpha!r}")
    if a.size == 2:
        p1 = float(special.betainc(a[1], a[0], 0.5))  # = 1 - I_{1/2}(a0, a1) = P(r0 > 1/2)
        return np.array([p1, 1.0 - p1])
    from scipy import stats  # deferred: importing scipy.stats costs about a second at start-up

    out = np.empty(a.size)
    upper = stats.gamma.ppf(1 - 1e-12, a.max()) + 10.0
    for k in range(a.size):
        others = np.delete(a, k)

        def integrand(x: float, k: int = k, others: NDArray = others) -> float:
            return float(np.exp(stats.gamma.logpdf(x, a[k]) + np.sum(stats.gamma.logcdf(x, others))))

        points = sorted({float(max(a[k] - 1, 0.0)), float(a.mean())})
        out[k] = integrate.quad(integrand, 0.0, upper, points=points, limit=200, epsabs=1e-12)[0]
    return out / out.sum()


def dirichlet_free_energy(
    log_evidence: NDArray[np.float64],
    alpha: NDArray[np.float64],
    g: NDArray[np.float64],
    alpha0: NDArray[np.float64],
) -> float:
    """Variational free energy :math:`F_1` of the random-effects model (VBA ``VBA_groupBMC``'s ``FE``).

    :math:`F_1 = E[\\log p(L, m, r)] + H[q(r)] + H[q(m)]` with :math:`q(r) = \\mathrm{Dir}(\\alpha)` and
    :math:`q(m_n) = \\mathrm{Cat}(g_n)`.
    """
    elogr = special.digamma(alpha) - special.digamma(alpha.sum())
    entropy_r = special.gammaln(alpha).sum() - special.gammaln(alpha.sum()) - np.sum((alpha - 1) * elogr)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy_m = -np.sum(np.where(g > 0, g * np.log(g), 0.0))
    elj = special.gammaln(alpha0.sum()) - special.gammaln(alpha0).sum() + np.sum((alpha0 - 1) * elogr)
    elj += np.sum(g * (elogr[None, :] + log_evidence))
    return float(elj + entropy_r + entropy_m)


def bms(
    log_evidence: ArrayLike | pd.DataFrame,
    *,
    models: list[str] | None = None,
    alpha0: ArrayLike | None = None,
    tol: float = 1e-8,
    max_iter: int = 10_000,
) -> BMSResult:
    """Random-effects Bayesian model selection (Stephan et al. 2009; Rigoux et al. 2014).

    Parameters
    ----------
    log_evidence : array_like (n_subjects, n_models) or DataFrame
        Log model evidence per subject and model (e.g. ``-bic / 2``). A DataFrame's columns name the
        models.
    models : list of str, optional
        Model names (default the DataFrame's columns or ``model0, model1, ...``).
    alpha0 : array_like (n_models,), optional
        Prior Dirichlet parameters (default ones).
    tol : float
        Convergence tolerance on ``alpha`` (max absolute change).
    max_iter : int

    Returns
    -------
    BMSResult

    Raises
    ------
    ValueError
        For non-finite evidences, fewer than two models or a wrong ``alpha0``.

    Examples
    --------
    >>> import numpy as np
    >>> from dopasoft.fitting import bms
    >>> log_evidence = np.array([[-10.0, -20.0], [-12.0, -25.0], [-11.0, -9.0]])  # subjects x models
    >>> res = bms(log_evidence, models=["A", "B"])
    >>> bool(res.exceedance[0] > res.exceedance[1])
    True
    """
    if isinstance(log_evidence, pd.DataFrame):
        models = models if models is not None else [str(c) for c in log_evidence.columns]
        L = log_evidence.to_numpy(dtype=float)
    else:
        L = np.asarray(log_evidence, dtype=float)
    if L.ndim != 2 or L.shape[1] < 2 or L.shape[0] < 1:
        raise ValueError(f"log_evidence must be (n_subjects, n_models >= 2), got shape {L.shape}")
    n, k = L.shape
    models = [str(m) for m in models] if models is not None else [f"model{i}" for i in range(k)]
    if len(models) != k:
        raise ValueError(f"models: {len(models)} model names for {k} columns of log_evidence")
    if not np.all(np.isfinite(L)):
        i, j = np.argwhere(~np.isfinite(L))[0]
        raise ValueError(
            f"log_evidence has a non-finite value ({L[i, j]}) in row {i}, model {models[j]!r} (a failed fit?)"
        )
    a0 = np.ones(k) if alpha0 is None else np.asarray(alpha0, dtype=float)
    if a0.shape != (k,) or np.any(a0 <= 0):
        raise ValueError(f"alpha0 must be {k} positive numbers (one per model), got {alpha0!r}")
    alpha = a0.copy()
    g = np.full((n, k), 1.0 / k)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        log_u = L + special.digamma(alpha) - special.digamma(alpha.sum())
        log_u -= log_u.max(axis=1, keepdims=True)
        g = np.exp(log_u)
        g /= g.sum(axis=1, keepdims=True)
        new = a0 + g.sum(axis=0)
        done = np.max(np.abs(new - alpha)) < tol
        alpha = new
        if done:
            break
    f1 = dirichlet_free_energy(L, alpha, g, a0)
    f0 = float(np.sum(special.logsumexp(L, axis=1) - np.log(k)))
    bor = float(special.expit(f0 - f1))  # 1 / (1 + exp(F1 - F0))
    xp = exceedance_probabilities(alpha)
    pxp = xp * (1.0 - bor) + bor / k
    return BMSResult(
        models=models,
        alpha=alpha,
        expected_frequency=alpha / alpha.sum(),
        exceedance=xp,
        protected_exceedance=pxp,
        bor=bor,
        responsibilities=g,
        free_energy=f1,
        null_free_energy=f0,
        n_iter=n_iter,
    )

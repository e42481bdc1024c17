r"""The batched optimiser behind :func:`~dopasoft.fitting.mle.fit`: transforms, BFGS, Hessian, standard errors.

Holds :class:`Transform` (bounded ``θ`` ↔ unconstrained ``z``), the objective over (subject, vector)
pairs (:class:`_Objective`, with an optional Gaussian prior on ``z``), the multi-start BFGS vectorised over
problems (:func:`_bfgs`, with its stop reasons), the central-difference Hessian (:func:`_hessian`),
snapping estimates to a bound (:func:`_snap_to_bounds`) and standard errors (:func:`_standard_errors`).
The transforms and the prior are described in :mod:`dopasoft.fitting.mle` and docs/fitting.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Transform"]


# ----------------------------------------------------------------------------------------------
# transforms


@dataclass(frozen=True)
class Transform:
    """Vectorised map between unconstrained ``z`` and bounded parameters ``θ`` (one per column)."""

    lower: NDArray[np.float64]
    upper: NDArray[np.float64]

    def to_natural(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``θ`` from ``z`` (last axis = parameters)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(over="ignore", invalid="ignore"):
            sig = 0.5 * (1.0 + np.tanh(0.5 * z))
            out = np.where(both, lo + (hi - lo) * sig, z)
            out = np.where(low, lo + np.exp(np.minimum(z, 700.0)), out)
            out = np.where(up, hi - np.exp(np.minimum(-z, 700.0)), out)
        return out

    def derivative(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``dθ/dz``."""
        lo, hi = self.lower, self.upper
        theta = self.to_natural(z)
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        sig = 0.5 * (1.0 + np.tanh(0.5 * z))
        with np.errstate(invalid="ignore"):
            d = np.where(both, (hi - lo) * sig * (1.0 - sig), 1.0)
        d = np.where(low, theta - lo, d)
        return np.where(up, hi - theta, d)

    def derivative_ratio(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(d²θ/dz²) / (dθ/dz)``: ``1 − 2σ(z)`` with two bounds, ``1`` (lower only), ``−1`` (upper
        only), ``0`` (unbounded). Converts a Hessian in ``z`` into one in ``θ`` away from a
        stationary point (see :func:`_standard_errors`)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        r = np.where(both, -np.tanh(0.5 * z), 0.0)  # 1 - 2 sigma(z)
        r = np.where(low, 1.0, r)
        return np.where(up, -1.0, r)

    def to_unconstrained(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``z`` from ``θ`` (θ strictly inside its bounds)."""
        lo, hi = self.lower, self.upper
        both = np.isfinite(lo) & np.isfinite(hi)
        low = np.isfinite(lo) & ~np.isfinite(hi)
        up = ~np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(both, np.log((theta - lo) / (hi - theta)), theta)
            z = np.where(low, np.log(theta - lo), z)
            z = np.where(up, -np.log(hi - theta), z)
        return z


# ----------------------------------------------------------------------------------------------
# batched optimiser


class _Objective:
    """NLL as a function of unconstrained free parameters, for (subject row, vector) pairs."""

    def __init__(self, model, tr, free_idx, fixed_vals, transform, prior=None):
        self.model, self.tr = model, tr
        self.free_idx = free_idx
        self.base = fixed_vals  # (n_params,) with fixed values, NaN for free
        self.transform = transform
        self.n_evals = 0
        # None or (mean, sd) arrays over the free parameters of a Gaussian on z (sd = inf: flat);
        # the objective is then the negative log joint
        self.prior = prior

    def neg_log_prior(self, z):
        """``-log N(z | mean, diag(sd^2))`` summed over parameters with a prior (0 without one)."""
        if self.prior is None:
            return np.zeros(z.shape[:-1])
        mu, sd = self.prior
        on = np.isfinite(sd)
        zz, mm, ss = z[..., on], mu[on], sd[on]
        return (
            0.5 * np.sum(((zz - mm) / ss) ** 2, axis=-1)
            + np.sum(np.log(ss))
            + 0.5 * on.sum() * np.log(2 * np.pi)
        )

    def prior_grad(self, z):
        """Gradient of :meth:`neg_log_prior` in ``z``."""
        mu, sd = self.prior
        with np.errstate(invalid="ignore"):  # z = ±inf (a parameter at its bound) with sd = inf
            return np.where(np.isfinite(sd), (z - mu) / sd**2, 0.0)

    def natural(self, z):
        theta = np.broadcast_to(self.base, z.shape[:-1] + self.base.shape).copy()
        theta[..., self.free_idx] = self.transform.to_natural(z)
        return theta

    @property
    def has_grad(self) -> bool:
        """The model provides analytic (forward-mode) gradients."""
        return getattr(self.model, "nll_grad_pairs", None) is not None

    def value_and_grad(self, subj, z):
        """Objective and its gradient in ``z`` (analytic, or forward differences as fallback)."""
        if not self.has_grad:
            f = self(subj, z)
            return f, _fd_gradient(self, subj, z, f)
        if len(subj) == 0:
            return np.empty(0), np.empty((0, z.shape[-1]))
        self.n_evals += len(subj)
        f, g_theta = self.model.nll_grad_pairs(self.tr, subj, self.natural(z))
        g = g_theta[:, self.free_idx] * self.transform.derivative(z)
        if self.prior is not None:
            f = f + self.neg_log_prior(z)
            g = g + self.prior_grad(z)
        bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
        f = np.where(bad, np.inf, f)
        g[bad] = 0.0
        return f, g

    def nll(self, subj, z):
        """The NLL alone (no prior). A model with analytic gradients evaluates it with its gradient
        replay: a fit's value-only evaluations are a few per subject (snapping to bounds, the NLL
        under a prior), and so a fit compiles one likelihood, not two (docs/performance.md)."""
        if self.has_grad:
            return self.model.nll_grad_pairs(self.tr, subj, self.natural(z))[0]
        return self.model.nll_pairs(self.tr, subj, self.natural(z))

    def __call__(self, subj, z):
        if len(subj) == 0:
            return np.empty(0)
        self.n_evals += len(subj)
        f = self.nll(subj, z)
        if self.prior is not None:
            f = f + self.neg_log_prior(z)
        return np.where(np.isfinite(f), f, np.inf)


def _fd_gradient(obj, subj, z, f, h=1e-7):
    """Forward-difference gradient of all problems, in one compiled call."""
    n, k = z.shape
    step = h * np.maximum(1.0, np.abs(z))
    zz = np.repeat(z[:, None, :], k, axis=1)
    zz[:, np.arange(k), np.arange(k)] += step
    fp = obj(np.repeat(subj, k), zz.reshape(n * k, k)).reshape(n, k)
    return (fp - f[:, None]) / step


def _merge_duplicates(z, f, active, n_starts, tol):
    """Stop starts of one subject that have joined another start of the same subject.

    Problems are laid out subject-major (``n_starts`` consecutive rows per subject). Of two active
    starts within ``tol`` (max-norm, unconstrained scale) the one with the higher NLL (or, on a
    tie, the later start) stops: both are in the same basin. Returns the rows stopped.
    """
    n, k = z.shape
    zz = z.reshape(-1, n_starts, k)
    ff = f.reshape(-1, n_starts)
    aa = active.reshape(-1, n_starts)
    cand = np.flatnonzero(aa.sum(axis=1) >= 2)
    if cand.size == 0:
        return np.empty(0, np.int64)
    zc, fc, ac = zz[cand], ff[cand], aa[cand]
    d = np.max(np.abs(zc[:, :, None, :] - zc[:, None, :, :]), axis=-1)  # (m, S, S)
    idx = np.arange(n_starts)
    worse = (fc[:, :, None] > fc[:, None, :]) | (
        (fc[:, :, None] == fc[:, None, :]) & (idx[:, None] > idx[None, :])
    )
    close = (d < tol) & ac[:, :, None] & ac[:, None, :] & worse
    drop = close.any(axis=2)
    rows = (cand[:, None] * n_starts + idx[None, :])[drop]
    return rows


# why a problem stopped (``FitResult.starts["stop"]``); the first two count as converged
STOP_GRADIENT, STOP_SMALL_CHANGE, STOP_STALLED, STOP_MAXITER, STOP_NONFINITE, STOP_MERGED, STOP_RUNNING = (
    range(7)
)
STOP_REASONS = ("gradient", "small_change", "stalled", "maxiter", "nonfinite", "merged", "running")
#: with no further decrease possible (relative change below ``ftol`` or no Armijo step), a problem
#: counts as converged only if its largest gradient component is below this multiple of ``gtol``
SMALL_CHANGE_GTOL_FACTOR = 10.0


@dataclass
class _BFGSResult:
    z: NDArray[np.float64]
    f: NDArray[np.float64]
    g: NDArray[np.float64]
    stop: NDArray[np.int64]
    n_iter: NDArray[np.int64]

    @property
    def converged(self) -> NDArray[np.bool_]:
        """The optimiser's own criterion was met (see :func:`_bfgs`)."""
        return (self.stop == STOP_GRADIENT) | (self.stop == STOP_SMALL_CHANGE)


def _bfgs(
    obj, subj, z0, *, n_starts=1, maxiter=200, gtol=1e-4, ftol=1e-9, max_step=4.0, merge_tol=0.1
) -> _BFGSResult:
    """Batched BFGS with backtracking (Armijo) line search; independent per problem.

    Gradients are the model's analytic ones when it has them (``nll_grad_pairs``), otherwise
    forward differences.
    Starts of one subject that meet in the same basin are merged (see :func:`_merge_duplicates`).

    A problem stops, and is *converged*, when (``g`` the gradient in ``z``, max-norm):

    * ``|g| < gtol`` (``"gradient"``), or
    * no further decrease is possible — an iteration lowered ``f`` by less than
      ``ftol · max(1, |f|)``, or no Armijo step was found in 30 halvings — while
      ``|g| < SMALL_CHANGE_GTOL_FACTOR · gtol`` (``"small_change"``).

    It stops *without* converging when no further decrease is possible but the gradient is larger
    (``"stalled"``, e.g. a failed line search away from a stationary point), after ``maxiter``
    iterations (``"maxiter"``), when the gradient is not finite (``"nonfinite"``), or when it has
    joined a better start of the same subject (``"merged"``).
    Returns a :class:`_BFGSResult` (``z, f, g, stop, n_iter``).
    """
    n, k = z0.shape
    z = z0.copy()
    analytic = obj.has_grad
    f, g = obj.value_and_grad(subj, z)
    hinv = np.repeat(np.eye(k)[None], n, axis=0)
    active = np.isfinite(f) & np.all(np.isfinite(g), axis=1)
    stop = np.where(active, STOP_RUNNING, STOP_NONFINITE).astype(np.int64)
    small_g = SMALL_CHANGE_GTOL_FACTOR * gtol
    n_iter = np.zeros(n, np.int64)
    first = np.ones(n, bool)
    for _ in range(maxiter):
        act = np.flatnonzero(active)
        if act.size == 0:
            break
        ga = g[act]
        d = -np.einsum("nij,nj->ni", hinv[act], ga)
        slope = np.sum(d * ga, axis=1)
        bad = ~(slope < 0) | ~np.all(np.isfinite(d), axis=1)
        if bad.any():  # reset to steepest descent
            hinv[act[bad]] = np.eye(k)
            d[bad] = -ga[bad]
            slope[bad] = -np.sum(ga[bad] ** 2, axis=1)
        norm = np.max(np.abs(d), axis=1)
        d *= np.minimum(1.0, max_step / np.maximum(norm, 1e-300))[:, None]
        slope = np.sum(d * ga, axis=1)
        t = np.ones(act.size)
        f_new = np.full(act.size, np.inf)
        g_new = np.zeros((act.size, k))
        accepted = np.zeros(act.size, bool)
        todo = np.arange(act.size)
        for _ls in range(30):
            zt = z[act[todo]] + t[todo, None] * d[todo]
            if analytic:  # value and gradient together: most first trials are accepted
                ft, gt = obj.value_and_grad(subj[act[todo]], zt)
            else:
                ft = obj(subj[act[todo]], zt)
            ok = ft <= f[act[todo]] + 1e-4 * t[todo] * slope[todo]
            f_new[todo[ok]] = ft[ok]
            if analytic:
                g_new[todo[ok]] = gt[ok]
            accepted[todo[ok]] = True
            todo = todo[~ok]
            if todo.size == 0:
                break
            t[todo] *= 0.5
        # problems whose line search failed: no decrease possible from here
        fail = ~accepted
        if fail.any():
            idx = act[fail]
            active[idx] = False
            gmax = np.max(np.abs(g[idx]), axis=1)
            stop[idx] = np.where(
                gmax < gtol, STOP_GRADIENT, np.where(gmax < small_g, STOP_SMALL_CHANGE, STOP_STALLED)
            )
        ok_idx = np.flatnonzero(accepted)
        if ok_idx.size == 0:
            continue
        a = act[ok_idx]
        s = t[ok_idx, None] * d[ok_idx]
        z_new = z[a] + s
        fn = f_new[ok_idx]
        gn = g_new[ok_idx] if analytic else _fd_gradient(obj, subj[a], z_new, fn)
        y = gn - g[a]
        sy = np.sum(s * y, axis=1)
        good = sy > 1e-12
        h = hinv[a]
        # first iteration: scale the initial inverse Hessian
        scale = first[a] & good
        if scale.any():
            yy = np.sum(y[scale] ** 2, axis=1)
            h[scale] = np.eye(k)[None] * (sy[scale] / yy)[:, None, None]
        first[a] = False
        if good.any():
            rho = 1.0 / sy[good]
            hg, sg, yg = h[good], s[good], y[good]
            hy = np.einsum("nij,nj->ni", hg, yg)
            yhy = np.sum(yg * hy, axis=1)
            hg = (
                hg
                - rho[:, None, None] * (hy[:, :, None] * sg[:, None, :] + sg[:, :, None] * hy[:, None, :])
                + (rho**2 * yhy + rho)[:, None, None] * sg[:, :, None] * sg[:, None, :]
            )
            h[good] = hg
        hinv[a] = h
        df = f[a] - fn
        z[a], f[a], g[a] = z_new, fn, gn
        n_iter[a] += 1
        gmax = np.max(np.abs(gn), axis=1)
        finite = np.all(np.isfinite(gn), axis=1)
        small = df <= ftol * np.maximum(1.0, np.abs(fn))
        why = np.full(a.size, STOP_RUNNING)
        why[small] = np.where(gmax[small] < small_g, STOP_SMALL_CHANGE, STOP_STALLED)
        why[gmax < gtol] = STOP_GRADIENT
        why[~finite] = STOP_NONFINITE
        done = why != STOP_RUNNING
        stop[a[done]] = why[done]
        active[a[done]] = False
        if n_starts > 1 and merge_tol > 0:
            merged = _merge_duplicates(z, f, active, n_starts, merge_tol)
            active[merged] = False
            stop[merged] = STOP_MERGED
    stop[active] = STOP_MAXITER
    return _BFGSResult(z=z, f=f, g=g, stop=stop, n_iter=n_iter)


def _hessian(obj, subj, z, h=1e-4, *, with_gradient=False):
    """Hessian of every problem (n, k, k), by central differences in one batched call.

    With analytic gradients (``obj.has_grad``): differences of gradients,
    ``H[:, j] = (g(z + h e_j) − g(z − h e_j)) / 2h`` symmetrised (2k evaluations, error O(h²)), and
    ``with_gradient`` returns the analytic gradient at ``z``. Otherwise second differences of the
    objective (2k + 2k(k − 1) evaluations) and, ``with_gradient``, the central-difference gradient
    from the same points. A problem whose objective is not finite at a point gets a NaN Hessian.
    """
    n, k = z.shape
    if obj.has_grad:
        return _hessian_from_gradients(obj, subj, z, h, with_gradient)
    pts, tags = [], []
    for i in range(k):
        for sgn in (1, -1):
            p = z.copy()
            p[:, i] += sgn * h
            pts.append(p)
            tags.append(("d", i, sgn))
    for i in range(k):
        for j in range(i + 1, k):
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                p = z.copy()
                p[:, i] += si * h
                p[:, j] += sj * h
                pts.append(p)
                tags.append(("o", i, j, si * sj))
    zz = np.stack(pts, axis=1)  # (n, m, k)
    m = zz.shape[1]
    f0 = obj(subj, z)
    fv = obj(np.repeat(subj, m), zz.reshape(n * m, k)).reshape(n, m)
    hess = np.zeros((n, k, k))
    for col, tag in enumerate(tags):
        if tag[0] == "d":
            hess[:, tag[1], tag[1]] += fv[:, col] / h**2
        else:
            _, i, j, sign = tag
            hess[:, i, j] += sign * fv[:, col] / (4 * h * h)
    for i in range(k):
        hess[:, i, i] -= 2 * f0 / h**2
        for j in range(i + 1, k):
            hess[:, j, i] = hess[:, i, j]
    if not with_gradient:
        return hess
    grad = (fv[:, 0 : 2 * k : 2] - fv[:, 1 : 2 * k : 2]) / (2 * h)
    return hess, grad


def _hessian_from_gradients(obj, subj, z, h, with_gradient):
    """:func:`_hessian` for objectives with analytic gradients."""
    n, k = z.shape
    pts = np.repeat(z[:, None, :], 2 * k + 1, axis=1)  # (n, 2k + 1, k): z, then z ± h e_j
    for j in range(k):
        pts[:, 1 + 2 * j, j] += h
        pts[:, 2 + 2 * j, j] -= h
    f, g = obj.value_and_grad(np.repeat(subj, 2 * k + 1), pts.reshape(-1, k))
    f, g = f.reshape(n, 2 * k + 1), g.reshape(n, 2 * k + 1, k)
    hess = np.empty((n, k, k))
    for j in range(k):
        hess[:, :, j] = (g[:, 1 + 2 * j] - g[:, 2 + 2 * j]) / (2 * h)
    hess = 0.5 * (hess + np.swapaxes(hess, 1, 2))
    hess[~np.all(np.isfinite(f), axis=1)] = np.nan
    if not with_gradient:
        return hess
    return hess, g[:, 0]


#: a free parameter is *at a bound* when its estimate is within this fraction of its scale of a
#: finite bound (natural scale); the scale is ``upper − lower`` with two finite bounds, else
#: ``max(1, |bound|)``
AT_BOUND_RTOL = 1e-3


def _bound_mask(theta: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]):
    """Which estimates (n, k) lie within :data:`AT_BOUND_RTOL` of their lower / upper bound."""
    both = np.isfinite(lo) & np.isfinite(hi)
    one = np.where(np.isfinite(lo), np.abs(lo), np.abs(hi))
    with np.errstate(invalid="ignore"):
        tol = AT_BOUND_RTOL * np.where(both, hi - lo, np.maximum(1.0, np.where(np.isfinite(one), one, 1.0)))
        near_lo = np.isfinite(lo) & (theta - lo <= tol)
        near_hi = np.isfinite(hi) & (hi - theta <= tol)
    return near_lo, near_hi


def _snap_to_bounds(obj, z, f, lo, hi):
    """Move estimates onto their nearest finite bound where the objective is lower there.

    A likelihood that keeps falling towards a bound flattens out near it, so the optimiser stops
    short, at an arbitrary point of the flat stretch (e.g. τ = 0.023 for a near-deterministic subject
    whose likelihood is highest at the lower bound 0.02). Each free parameter in turn is tried at its
    nearest finite bound (``z = ±∞``) with the others held; the move is kept if the objective is no
    higher there (to 1e-9 relative: the flat stretch is often flat to rounding). Bounds outside the
    domain the likelihood accepts (τ = 0) are not tried. Returns the new ``z`` and objective values."""
    z, f = z.copy(), f.copy()
    n, k = z.shape
    subj = np.arange(n, dtype=np.int64)
    theta = obj.transform.to_natural(z)
    params = [obj.model.params[int(j)] for j in obj.free_idx]
    for j in range(k):
        fin_lo = bool(np.isfinite(lo[j])) and params[j].in_domain(float(lo[j]))
        fin_hi = bool(np.isfinite(hi[j])) and params[j].in_domain(float(hi[j]))
        if not (fin_lo or fin_hi):
            continue
        if fin_lo and fin_hi:
            to_lo = theta[:, j] - lo[j] <= hi[j] - theta[:, j]
        else:
            to_lo = np.full(n, fin_lo)
        cand = z.copy()
        cand[:, j] = np.where(to_lo, -np.inf, np.inf)
        rows = np.flatnonzero(np.isfinite(f))
        if rows.size == 0:
            break
        fc = obj(subj[rows], cand[rows])
        better = fc <= f[rows] + 1e-9 * np.maximum(1.0, np.abs(f[rows]))
        idx = rows[better]
        z[idx], f[idx] = cand[idx], fc[better]
        theta[idx] = obj.transform.to_natural(z[idx])
    return z, f


def _standard_errors(hess, grad, z, transform, at_bound):
    """Standard errors (natural scale) of the free parameters and a note per problem.

    The Hessian of the objective in ``θ`` is recovered from the one in ``z`` exactly, also where
    the gradient is not quite zero: ``H_θ = J⁻¹ (H_z − diag(g_z · θ''/θ')) J⁻¹`` with ``J = diag(θ')``,
    so ``se(θ_j) = |θ'_j| sqrt([(H_z − diag(g_z θ''/θ'))⁻¹]_jj)``. Parameters at a bound get NaN
    and are left out of the matrix (the others' SEs are those with them held at the bound): a
    boundary optimum is not a stationary point, so the curvature there says nothing about its
    uncertainty. NaN for all when that matrix is not positive definite.
    """
    n, k = z.shape
    se = np.full((n, k), np.nan)
    notes = [""] * n
    jac = transform.derivative(z)
    ratio = transform.derivative_ratio(z)
    for i in range(n):
        inner = ~at_bound[i]
        if not inner.any():
            continue
        idx = np.flatnonzero(inner)
        h = hess[i][np.ix_(idx, idx)] - np.diag(grad[i, idx] * ratio[i, idx])
        if not np.all(np.isfinite(h)):
            notes[i] = "Hessian not finite: no standard errors"
            continue
        h = 0.5 * (h + h.T)
        w = np.linalg.eigvalsh(h)
        if not w.min() > 0:
            notes[i] = "Hessian not positive definite: no standard errors"
            continue
        cov = np.linalg.inv(h)
        se[i, idx] = np.abs(jac[i, idx]) * np.sqrt(np.diag(cov))
    return se, notes


#: how far (unconstrained scale, times the parameter's scale there) :func:`_diverging` looks beyond an
#: estimate towards a bound it cannot snap to
DIVERGENCE_STEPS = (0.5, 2.0, 16.0)
#: an estimate this many times beyond the end of its parameter's start range (a factor on the transformed
#: scale, a multiple of the range's width without bounds) is as good as infinite
FAR_BEYOND_FACTOR = 1e3


def _diverging(obj, z, f, lo, hi):
    """Which estimates (n, k) lie on the way to a bound they cannot reach: an infinite ML estimate.

    :func:`_snap_to_bounds` moves estimates onto a finite bound where the objective is no higher. A bound
    the likelihood cannot be evaluated at (τ = 0) or an infinite one (β → ∞) cannot be tried, and the
    optimiser stops on the plateau the likelihood reaches on the way there (e.g. β = 151 or 1713 for a
    deterministic chooser, at the same NLL), its gradient in ``z`` vanishing only because the likelihood
    has stopped changing. Such an estimate is flagged towards that bound when

    * the objective is no higher (to 1e-9 relative, as when snapping) at any point further out,
      ``z_j ± DIVERGENCE_STEPS`` (points where it cannot be evaluated, overflowing, are left out; at
      least one must be evaluated), or the estimate lies :data:`FAR_BEYOND_FACTOR` times beyond the
      end of the parameter's start range (out there the likelihood is flat to rounding and its
      rounding errors, of order β × 1e-16, can make it look bumpy), and
    * it is higher back in the parameter's plausible range (the middle of its start range, or half a
      step back when the estimate lies inside that range): a direction flat both ways is a parameter the
      data do not inform, not an infinite estimate.

    The scale of ``z_j`` is 1 for a transformed parameter (factors ``e^0.5 … e^16`` from the bound) and
    ``max(1, |θ_j|)`` for one without bounds. Returns boolean masks ``(to_lower, to_upper)``.
    """
    n, k = z.shape
    to_lo = np.zeros((n, k), bool)
    to_hi = np.zeros((n, k), bool)
    if n == 0 or k == 0:
        return to_lo, to_hi
    params = [obj.model.params[int(j)] for j in obj.free_idx]
    tol = 1e-9 * np.maximum(1.0, np.abs(f))
    unbounded = ~np.isfinite(lo) & ~np.isfinite(hi)
    steps = np.array(DIVERGENCE_STEPS)
    m = steps.size
    for j in range(k):
        a, b = params[j].start
        a, b = max(a, lo[j]), min(b, hi[j])
        mid = 0.5 * (a + b) if a < b else None
        tj = Transform(lo[j : j + 1], hi[j : j + 1])
        z_mid = None
        if mid is not None and lo[j] < mid < hi[j]:
            z_mid = float(tj.to_unconstrained(np.array([mid]))[0])
        for sign, bound, out in ((-1.0, lo[j], to_lo), (1.0, hi[j], to_hi)):
            if np.isfinite(bound) and params[j].in_domain(float(bound)):
                continue  # a bound that can be tried: _snap_to_bounds did
            rows = np.flatnonzero(np.isfinite(f) & np.isfinite(z[:, j]))
            if rows.size == 0:
                continue
            zj = z[rows, j]
            end = b if sign > 0 else a  # the start range's end in this direction
            if unbounded[j]:
                beyond = sign * (zj - end) > FAR_BEYOND_FACTOR * max(b - a, 1.0)
            elif lo[j] < end < hi[j]:
                z_end = float(tj.to_unconstrained(np.array([end]))[0])
                beyond = sign * (zj - z_end) > np.log(FAR_BEYOND_FACTOR)
            else:
                beyond = np.zeros(rows.size, bool)
            scale = np.maximum(1.0, np.abs(zj)) if unbounded[j] else np.ones(rows.size)
            back = zj - sign * scale * steps[0]
            if z_mid is not None:  # back in the plausible range, unless the estimate is already there
                back = np.where(sign * (zj - z_mid) > 0, z_mid, back)
            pts = np.repeat(z[rows, None, :], m + 1, axis=1)  # (r, m + 1, k): m outward, then back
            pts[:, :m, j] += sign * scale[:, None] * steps[None, :]
            pts[:, m, j] = back
            with np.errstate(all="ignore"):
                fv = obj(np.repeat(rows, m + 1).astype(np.int64), pts.reshape(-1, k)).reshape(
                    rows.size, m + 1
                )
            level = f[rows, None] + tol[rows, None]
            far = fv[:, :m]
            evaluated = np.isfinite(far)
            flat_out = np.all(~evaluated | (far <= level), axis=1) & evaluated.any(axis=1)
            rises_back = fv[:, m] > level[:, 0]
            out[rows[(flat_out | beyond) & rises_back], j] = True
    return to_lo, to_hi

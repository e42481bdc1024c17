"""Full posteriors of hierarchical models by NUTS (nutpie) on the log density of
:mod:`dopasoft.fitting.bayes.density`."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dopasoft.fitting.bayes.covariates import design
from dopasoft.fitting.bayes.density import LogDensity
from dopasoft.fitting.bayes.models import HierModel, hierarchical_model
from dopasoft.fitting.bayes.result import _MISSING, PosteriorResult, build_idata, import_arviz
from dopasoft.fitting.data import Transitions, to_transitions
from dopasoft.fitting.models import ChoiceModel

__all__ = ["sample", "import_nutpie"]


def import_nutpie():
    """nutpie (and ArviZ); ``ImportError`` saying how to install the ``[bayes]`` extra when missing."""
    import_arviz()
    try:
        import nutpie
        from nutpie.compiled_pyfunc import from_pyfunc
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return nutpie, from_pyfunc


def _data(data, hm: HierModel, n_actions: int | None, n_states: int | None) -> Transitions:
    if n_actions is None and hm.n_actions is not None and isinstance(data, pd.DataFrame):
        n_actions = data.attrs.get("n_actions", hm.n_actions)
    tr = to_transitions(data, n_actions=n_actions, n_states=n_states)
    hm.model.check_task(tr)
    for what, need, have in (("actions", hm.n_actions, tr.n_actions), ("states", hm.n_states, tr.n_states)):
        if need is not None and have != need:
            raise ValueError(f"model {hm.name!r} needs data with {need} {what}, these have {have}")
    return tr


def compile_model(density: LogDensity):
    """The nutpie model of ``density``: its log density and gradient as a Python callback (the
    unconstrained vector is the one stored variable; :func:`build_idata` makes the posterior)."""
    _, from_pyfunc = import_nutpie()

    def make_logp():
        return density.logp_grad

    def make_expand(seed1, seed2, chain):
        def expand(x):
            return {"x": np.array(x, dtype=np.float64)}

        return expand

    return from_pyfunc(
        density.n_dim,
        make_logp,
        make_expand,
        [np.dtype("float64")],
        [(density.n_dim,)],
        ["x"],
        make_initial_point_fn=density.initial_point,
    )


# below this cost of one log density evaluation a second sampler thread saves no wall time, and its
# coordination costs CPU time (docs/performance.md, "Full Bayes")
CHEAP_EVALUATION_SECONDS = 2e-4


def _default_cores(density: LogDensity, chains: int, seed: int) -> int:
    """Chains at once: all of them, at most the processors, unless one evaluation is cheap (then one
    thread runs them in turn in the same wall time; the draws do not depend on it)."""
    processors = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    x = density.initial_point(seed)
    start = time.perf_counter()
    for _ in range(10):
        density.logp_grad(x)
    if (time.perf_counter() - start) / 10 < CHEAP_EVALUATION_SECONDS:
        return 1
    return max(1, min(chains, processors))


def sample(
    data: pd.DataFrame | Transitions,
    model: str | ChoiceModel | HierModel,
    *,
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    seed: int = 0,
    prior: Mapping | None = None,
    progress: bool = True,
    cores: int | None = None,
    target_accept: float = 0.8,
    n_actions: int | None = None,
    n_states: int | None = None,
    covariates: pd.DataFrame | None = None,
    covariate_params: Sequence[str] | None = None,
) -> PosteriorResult:
    r"""Sample the posterior of a hierarchical model by NUTS (nutpie).

    Subject parameters are non-centred, ``z_s = μ + σ ⊙ η_s``, ``η_s ~ N(0, I)``, mapped to their
    domains (docs/fitting.md, "Full Bayes"); the choices have the choice model's likelihood. The
    sampler's chains run in threads; each evaluation of the log density runs every subject's
    compiled likelihood (and its forward-mode gradient) in the chain's own thread.

    Parameters
    ----------
    data : pandas.DataFrame or Transitions
        Choice data in any format :func:`dopasoft.fitting.to_transitions` reads (hBayesDM task files
        through :func:`dopasoft.fitting.read_hbayesdm`).
    model : str, ChoiceModel or HierModel
        An hBayesDM model name, exactly hBayesDM's model with its names: ``"bandit2arm_delta"``
        (``A``, ``tau``, ``mu_A``, ``mu_tau``, ``sigma``), the two-step ``"ts_par7"`` (``a1``,
        ``beta1``, ``a2``, ``beta2``, ``pi``, ``w``, ``lambda``, their ``mu_<p>``, ``sigma``),
        ``"ts_par6"`` (no ``lambda``) and ``"ts_par4"`` (``a``, ``beta``, ``pi``, ``w``); or a Soft Q
        model (``"soft-q"``, ``"soft-q-lambda+kappa"``, ...) with the default group prior.
    chains, draws, tune : int
        Chains, draws kept per chain, tuning steps per chain.
    seed : int
        The same seed gives the same draws, whatever ``cores``.
    prior : dict, optional
        ``{name: {"mu": (mean, sd), "sigma": scale}}`` replacing the default group priors
        (:func:`dopasoft.fitting.bayes.models.hierarchical_model`).
    progress : bool
        nutpie's progress bar.
    cores : int, optional
        Chains run at once (default: ``chains``, at most the processors; one when an evaluation of
        the log density takes under 0.2 ms, where more threads save no wall time). The draws do not
        depend on it.
    target_accept : float
        The step size's target acceptance rate (raise it, e.g. 0.95, when there are divergences).
    n_actions, n_states : int, optional
        As :func:`dopasoft.fitting.to_transitions`.
    covariates : pandas.DataFrame, optional
        Group covariates: a ``subject`` column (matched to the data's subject IDs as text; every
        subject needs a row, extra rows are ignored) and one column per covariate. The group mean of
        each chosen parameter becomes a regression on the unconstrained scale,
        ``z_s = μ + B x_s + σ ⊙ η_s``, ``B ~ N(0, 1)``. Numeric and boolean columns enter raw (not
        centred: with a 0/1 group code, ``μ`` is the baseline group's mean and ``B`` the difference);
        a text or categorical column becomes 0/1 dummies ``"<column>[<level>]"``, the first level
        (sorted text, or the categorical's first category) the baseline. Missing values, missing
        subjects and constant columns are refused.
    covariate_params : list of str, optional
        The parameters (reported names: ``A``, ``tau`` for ``bandit2arm_delta``) that get every
        covariate; default all. Fit a table with fewer columns to give a parameter fewer covariates.

    Returns
    -------
    PosteriorResult
        With ``idata`` (with covariates: ``beta_<param>`` over dimension ``covariate``, unconstrained
        scale), ``summary()``, ``params``, ``diagnostics`` and ``loo()``; a ``UserWarning``
        names each failed check (any divergence, R-hat > 1.01, bulk ESS < 400, E-BFMI < 0.3).

    Raises
    ------
    ImportError
        Without nutpie and ArviZ (``pip install -e '.[bayes]'``).
    ValueError
        Unknown model, data the model cannot take, an invalid prior, invalid covariates.

    Examples
    --------
    >>> import warnings
    >>> from dopasoft.fitting import sample, simulate_choices
    >>> data = simulate_choices("soft-q", {"alpha": 0.3, "tau": 0.2}, task="bandit", n_subjects=3,
    ...                         n_trials=30, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # so few draws fail the ESS check
    ...     post = sample(data, "bandit2arm_delta", chains=1, draws=20, tune=20, progress=False)
    >>> sorted(post.idata.posterior.data_vars)
    ['A', 'mu_A', 'mu_pr', 'mu_tau', 'sigma', 'tau']
    >>> list(post.params.columns)
    ['subject', 'A', 'tau', 'n_choices', 'model']
    """
    nutpie, _ = import_nutpie()
    for name, value, low in (("chains", chains, 1), ("draws", draws, 1), ("tune", tune, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    hm = hierarchical_model(model, prior)
    tr = _data(data, hm, n_actions, n_states)
    if covariates is None and covariate_params is not None:
        raise ValueError("covariate_params needs covariates")
    cov = design(covariates, tr.subjects, hm, covariate_params) if covariates is not None else None
    t0 = time.process_time()
    density = LogDensity(hm, tr, cov)
    density.logp_grad(density.initial_point(seed))  # compiles (or loads) the likelihood
    if cores is None:
        cores = _default_cores(density, chains, seed)
    compiled = compile_model(density)
    t1 = time.process_time()
    trace = nutpie.sample(
        compiled,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=int(seed),
        cores=int(cores),
        progress_bar=progress,
        save_warmup=False,
        target_accept=float(target_accept),
    )
    t2 = time.process_time()
    x = np.asarray(trace.posterior["x"].values)
    attrs = {"model": hm.name, "choice_model": hm.model.spec, "sampler": f"nutpie {nutpie.__version__}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        idata = build_idata(density, x, trace.sample_stats, attrs)
    result = PosteriorResult(
        idata=idata, model=hm, compile_seconds=t1 - t0, sampling_seconds=t2 - t1, _density=density
    )
    result.check(stacklevel=2)
    return result

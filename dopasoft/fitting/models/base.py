"""What every choice model declares: its parameters, its options, and the hooks the engine calls.

A model *family* (one module of :mod:`dopasoft.fitting.models`) declares a :class:`ModelFamily`:
the model names it serves, its :class:`Option` s and a builder returning a :class:`ChoiceModel`
whose :class:`Parameter` table (name, bounds, start range, domain, label, unit, kind) is the one
place those facts are written. Fitting, simulation, replay, the command line and the figures read
them from the model (docs/architecture.md, "Adding a model family").
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from dopasoft.fitting.data import Transitions

__all__ = ["Parameter", "Option", "ChoiceModel", "GradientBlock", "ModelFamily"]

INF = math.inf


@dataclass(frozen=True)
class Parameter:
    """A model parameter on the natural scale.

    Attributes
    ----------
    name : str
        Column name in parameter dicts and fits tables (``"alpha"``).
    lower, upper : float
        Default fitting bounds (what :func:`dopasoft.fitting.fit` searches unless told otherwise). The
        optimiser's transform follows from them: logistic with two finite bounds, exponential with
        one, none without (:attr:`transform`).
    start : (float, float)
        Range random starts are drawn from.
    description : str
        What it is, in words (``"learning rate"``).
    domain : (float, float)
        Values the likelihood accepts (closed unless listed in ``open_ends``); user bounds and fixed
        values must lie inside it.
    open_ends : (bool, bool)
        Whether the lower / upper end of ``domain`` is excluded (e.g. a temperature must be > 0).
    symbol : str
        Mathematical symbol for figures (``"α"``).
    unit : str
        Unit for figures (``"reward units"``, ``"log-odds"``; empty when dimensionless).
    short : str
        Shorter description for axis labels (default: ``description``).
    kind : str
        Role the defaults key on: ``"temperature"`` and ``"inverse-temperature"`` get the weak default
        prior of :func:`dopasoft.fitting.default_prior` and log axes in figures; others ``""``.

    Examples
    --------
    >>> import dopasoft as ds
    >>> alpha = ds.fitting.get_model("soft-q").params[0]
    >>> alpha.name, alpha.lower, alpha.upper, alpha.description
    ('alpha', 0.0, 1.0, 'learning rate')
    """

    name: str
    lower: float
    upper: float
    start: tuple[float, float]
    description: str = ""
    domain: tuple[float, float] = (-INF, INF)
    open_ends: tuple[bool, bool] = (False, False)
    symbol: str = ""
    unit: str = ""
    kind: str = ""
    short: str = ""

    def in_domain(self, value: float) -> bool:
        """Whether ``value`` is a finite value the likelihood accepts."""
        lo, hi = self.domain
        if not math.isfinite(value):
            return False
        above = value > lo if self.open_ends[0] else value >= lo
        below = value < hi if self.open_ends[1] else value <= hi
        return above and below

    def domain_text(self) -> str:
        """The domain in interval notation, e.g. ``(0, inf)`` or ``[0, 1]``."""
        lo, hi = self.domain
        return f"{'(' if self.open_ends[0] else '['}{lo:g}, {hi:g}{')' if self.open_ends[1] else ']'}"

    @property
    def transform(self) -> str:
        """The optimiser's map from the real line under the default bounds: ``"logistic"``,
        ``"exp"`` (one finite bound) or ``"identity"``."""
        n = math.isfinite(self.lower) + math.isfinite(self.upper)
        return ("identity", "exp", "logistic")[n]

    @property
    def label(self) -> str:
        """Axis label: symbol, description and unit, e.g. ``"τ, temperature (reward units)"``."""
        words = self.short or self.description or self.name
        text = f"{self.symbol}, {words}" if self.symbol else words
        return f"{text} ({self.unit})" if self.unit else text


@dataclass(frozen=True)
class Option:
    """A model option (a keyword of :func:`dopasoft.fitting.get_model` and a ``+name[=value]`` part of a
    model spec).

    Attributes
    ----------
    name : str
    default : bool, float or str
        Its type is the option's type. Boolean options are written ``+name`` in a spec, the others
        ``+name=value``.
    description : str
    choices : tuple, optional
        Allowed values of a string option.
    interval : (float, float), optional
        Closed interval a number option must lie in.
    """

    name: str
    default: bool | float | str
    description: str = ""
    choices: tuple[str, ...] = ()
    interval: tuple[float, float] | None = None

    def check(self, value: Any, where: str = "") -> bool | float | str:
        """``value`` converted to the option's type; ``ValueError`` naming the option otherwise."""
        at = f"{where}: " if where else ""
        if isinstance(self.default, bool):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{at}{self.name} must be True or False, got {value!r}")
            return bool(value)
        if isinstance(self.default, float):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{at}{self.name} must be a number, got {value!r}") from None
            if self.interval is not None and not self.interval[0] <= number <= self.interval[1]:
                lo, hi = self.interval
                raise ValueError(f"{at}{self.name} must be in [{lo:g}, {hi:g}], got {value!r}")
            return number
        if self.choices and value not in self.choices:
            listed = " or ".join(repr(c) for c in self.choices)
            raise ValueError(f"{at}{self.name} must be {listed}, got {value!r}")
        return str(value)

    def spec_part(self, value: Any) -> str:
        """How ``value`` is written in a model spec (``"kappa"``, ``"gamma=0.9"``)."""
        return self.name if value is True else f"{self.name}={value}"


@dataclass(frozen=True)
class GradientBlock:
    """A model's compiled, serial, GIL-free likelihood with its forward-mode gradient.

    ``function(lo, hi, *data, subj, full, *variant, nll, grad, *after)`` writes, for pairs
    ``lo <= k < hi``, the NLL of subject row ``subj[k]`` under kernel columns ``full[k]`` into
    ``nll[k]`` and its ``n_columns`` derivatives into ``grad[k]``: column ``c`` of ``grad`` is the
    derivative along model parameter ``grad_source[c]`` (``-1``: none), or with ``grad_source``
    ``None`` with respect to kernel column ``c`` (the model's ``source`` maps it to a parameter). The model's
    ``nll_grad_pairs`` runs the same function on the thread pool; the Bayesian log density calls it
    directly, once per evaluation, in the sampler chain's thread.

    Attributes
    ----------
    function : numba dispatcher
    data : tuple
        The data arguments (arrays and sizes) of ``tr``.
    variant : tuple
        The model's compile-time switches and constants that follow ``full``.
    n_columns : int
        Width of ``grad``.
    after : tuple
        Arguments after ``grad`` (the Soft Q replay's tangent directions).
    grad_source : tuple of int, optional
        The model parameter of each column of ``grad`` when they are not the kernel columns.
    """

    function: Callable
    data: tuple
    variant: tuple
    n_columns: int
    after: tuple = ()
    grad_source: tuple | None = None


@dataclass(frozen=True)
class ChoiceModel(ABC):
    """A choice model: named parameters and a batched compiled likelihood.

    Subclasses map their parameters onto the columns of a compiled kernel: column ``j`` takes
    parameter ``source[j]`` or, when ``source[j] = -1``, the constant ``constant[j]``.

    Attributes
    ----------
    name : str
    params : tuple of Parameter
    source, constant : tuple
        Kernel columns (see above).
    tasks : tuple of str
        Data formats the model accepts (``"two-step"``, ``"bandit"``, ``"steps"``).
    simulation_tasks : tuple of str
        Tasks :func:`dopasoft.fitting.simulate_choices` can simulate it on, the default first (a class
        attribute: ``"two-step"``, ``"bandit"``, ``"gng"``, ``"bandit4arm"``).
    options : dict
        The option values it was built with (all of its family's options).
    family : ModelFamily

    Examples
    --------
    >>> import dopasoft as ds
    >>> model = ds.fitting.get_model("soft-q-lambda", kappa=True)
    >>> model.spec, model.param_names
    ('soft-q-lambda+kappa', ('alpha', 'tau', 'lam', 'kappa'))
    """

    name: str
    params: tuple[Parameter, ...]
    source: tuple[int, ...]
    constant: tuple[float, ...]
    tasks: tuple[str, ...] = ("two-step",)
    options: dict = field(default_factory=dict, compare=False)
    family: ModelFamily | None = field(default=None, compare=False, repr=False)
    simulation_tasks: ClassVar[tuple[str, ...]] = ("two-step",)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names, in the order of the last axis of parameter arrays."""
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return len(self.params)

    def parameter(self, name: str) -> Parameter:
        """The :class:`Parameter` called ``name`` (``KeyError`` naming the model's parameters)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"model {self.spec!r} has no parameter {name!r}; it has {list(self.param_names)}")

    @property
    def spec(self) -> str:
        """Name plus non-default options, e.g. ``"soft-q-lambda+kappa"`` (identifies fits on disk)."""
        parts = [self.name]
        declared = {o.name: o for o in self.family.options} if self.family else {}
        for k in sorted(self.options):
            v = self.options[k]
            opt = declared.get(k)
            if opt is not None and v != opt.default:
                parts.append(opt.spec_part(v))
        return "+".join(parts)

    def default_bounds(self) -> dict[str, tuple[float, float]]:
        """Bounds of each parameter on the natural scale."""
        return {p.name: (p.lower, p.upper) for p in self.params}

    def full(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map parameters ``(..., n_params)`` onto the kernel columns ``(..., n_columns)``."""
        theta = np.asarray(theta, dtype=float)
        src = np.asarray(self.source)
        out = np.broadcast_to(np.asarray(self.constant, float), theta.shape[:-1] + (len(src),)).copy()
        used = src >= 0
        out[..., used] = theta[..., src[used]]
        return out

    def pull_back(self, gcols: NDArray[np.float64]) -> NDArray[np.float64]:
        """Gradient with respect to the kernel columns -> with respect to the parameters."""
        out = np.zeros(gcols.shape[:-1] + (self.n_params,))
        for col, j in enumerate(self.source):
            if j >= 0:
                out[..., j] += gcols[..., col]
        return out

    nll_grad_pairs = None  # models with analytic gradients override this

    def gradient_block(self, tr: Transitions) -> GradientBlock | None:
        """The compiled likelihood-and-gradient block of this model on ``tr``, for callers that run
        every subject in their own thread (the Bayesian log density); ``None`` when some kernel column
        has no forward-mode derivative (a differenced column) or the family has none."""
        return None

    def compiled_functions(self) -> tuple:
        """The compiled (numba) functions a fit of this model runs, for
        :func:`dopasoft.fitting.compilation.prepare_fit`; ``()`` when there are none."""
        return ()

    def check_task(self, tr: Transitions) -> None:
        """Raise ``ValueError`` if the model cannot be fitted to data of ``tr.task``."""
        if tr.task not in self.tasks:
            raise ValueError(f"model {self.name!r} needs {' or '.join(self.tasks)} data, got {tr.task} data")

    @abstractmethod
    def nll_pairs(
        self, tr: Transitions, subj: NDArray[np.int64], theta: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Negative log-likelihood of subjects ``subj`` (rows of ``tr``) under ``theta`` (n, n_params)."""

    def nll_batch(self, tr: Transitions, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """NLL for every subject and parameter vector: ``theta`` (n_subjects, n_vectors, n_params)
        -> (n_subjects, n_vectors), evaluated in one parallel compiled call."""
        theta = np.asarray(theta, dtype=float)
        s, v, _ = theta.shape
        subj = np.repeat(np.arange(s, dtype=np.int64), v)
        return self.nll_pairs(tr, subj, theta.reshape(s * v, -1)).reshape(s, v)

    @abstractmethod
    def simulate_arrays(self, theta, probs, u):
        """Generate choices; see :func:`dopasoft.fitting.simulate_choices`."""

    def replay_signals(
        self, tr: Transitions, theta: NDArray[np.float64]
    ) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float64]]:
        """Run the likelihood's own loop along every subject's steps (row ``i`` under ``theta[i]``)
        and return its per-step signals, ``{column: (n_subjects, max_steps) array}`` holding at least
        ``p_choice``, ``delta``, ``value_rpe`` and ``action_term`` (NaN where a family has no such
        signal or no choice was made), and each subject's NLL. See :func:`dopasoft.fitting.replay`."""
        raise NotImplementedError(f"model {self.name!r} has no replay")


@dataclass(frozen=True)
class ModelFamily:
    """The declaration of a model family: one per module of :mod:`dopasoft.fitting.models`.

    Attributes
    ----------
    title : str
        Plural name for messages (``"soft Q"``: "kappa applies to the soft Q models only").
    models : dict
        Model name -> one-line description.
    options : tuple of Option
    build : callable
        ``build(name, options) -> ChoiceModel``, ``options`` a dict holding every option (checked).
    """

    title: str
    models: dict[str, str]
    options: tuple[Option, ...]
    build: Callable[[str, dict[str, Any]], ChoiceModel] = field(repr=False)

    def option(self, name: str) -> Option | None:
        """The option called ``name``, or ``None``."""
        for o in self.options:
            if o.name == name:
                return o
        return None

    def defaults(self) -> dict[str, Any]:
        """Every option at its default."""
        return {o.name: o.default for o in self.options}

    def variants(self, name: str) -> list[ChoiceModel]:
        """``name`` built with every combination of its boolean options (for reading fits tables)."""
        flags = [o for o in self.options if isinstance(o.default, bool)]
        out = []
        for mask in range(2 ** len(flags)):
            opts = self.defaults()
            for j, o in enumerate(flags):
                opts[o.name] = bool(mask >> j & 1)
            try:
                out.append(self.build(name, opts))
            except ValueError:  # a combination the model does not allow
                continue
        return out

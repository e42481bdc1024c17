r"""Hierarchical declarations: per parameter its transform, its group prior and its names.

A hierarchical model puts every subject's parameters on an unconstrained scale,
``z_s = μ + σ ⊙ η_s`` with ``η_s ~ N(0, I)`` (non-centred), maps them to their domains,
``v_s = T(z_s)``, and gives the choices the likelihood of a dopasoft choice model at
``θ_s = g(v_s)`` (``g`` is the identity, or ``1/v`` where a reported parameter is an inverse
temperature and the choice model's a temperature). The group prior is ``μ_p ~ N(m_p, s_p)``,
``σ_p ~ N⁺(0, h_p)`` (or ``Cauchy⁺(0, h_p)``, where hBayesDM's Stan file says ``cauchy``).

Two kinds of models are declared here:

* hBayesDM's models, by their hBayesDM name (``"bandit2arm_delta"``; the two-step ``"ts_par7"``,
  ``"ts_par6"``, ``"ts_par4"``; ``"gng_m1"`` … ``"gng_m4"``, ``"prl_fictitious"``, ``"prl_rp"``,
  ``"bandit4arm_4par"``), exactly as their Stan files define them (priors, bounds, transforms, the names of the reported quantities);
* every Soft Q model (any spec :func:`dopasoft.fitting.get_model` accepts, e.g. ``"soft-q"``,
  ``"soft-q-lambda+kappa"``) with the default prior of :data:`DEFAULT_PRIORS` (docs/fitting.md,
  "Full Bayes").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from dopasoft.fitting.models import ChoiceModel, SoftQLambdaModel, get_model

__all__ = [
    "HierParam",
    "HierModel",
    "HBAYESDM_MODELS",
    "DEFAULT_PRIORS",
    "hierarchical_model",
    "phi_approx",
]

# Stan's Phi_approx: logistic(0.07056 x^3 + 1.5976 x)
_PHI_A = 0.07056
_PHI_B = 1.5976


def phi_approx(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Stan's ``Phi_approx(x) = logistic(0.07056 x³ + 1.5976 x)``, an approximation of the normal CDF.

    Examples
    --------
    >>> from dopasoft.fitting.bayes.models import phi_approx
    >>> round(float(phi_approx(0.0)), 6), round(float(phi_approx(1.0)), 4)
    (0.5, 0.8413)
    """
    x = np.asarray(x, dtype=float)
    u = (_PHI_A * x * x + _PHI_B) * x
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def _phi_approx_derivative(x: NDArray[np.float64]) -> NDArray[np.float64]:
    u = (_PHI_A * x * x + _PHI_B) * x
    s = 0.5 * (1.0 + np.tanh(0.5 * u))
    return s * (1.0 - s) * (3.0 * _PHI_A * x * x + _PHI_B)


@dataclass(frozen=True)
class HierParam:
    """One parameter of a hierarchical model.

    Attributes
    ----------
    name : str
        The reported name (``"A"``, ``"tau"`` for hBayesDM models; the choice model's name otherwise).
    model_param : str
        The choice model's parameter it gives (``"alpha"``, ``"tau"``).
    transform : {"phi", "exp", "identity"}
        ``v = lower + scale · Φ≈(z)``, ``v = lower + exp(z)`` or ``v = z``.
    scale, lower : float
        Of the transform (``scale`` for ``"phi"`` only).
    link : {"identity", "reciprocal"}
        The choice model's parameter from ``v``: ``v`` or ``1/v``.
    mu_prior : (float, float)
        Mean and sd of the normal prior of the group mean ``μ`` (unconstrained scale).
    sigma_prior : float
        Scale of the prior of the group sd ``σ`` (unconstrained scale).
    sigma_family : {"normal", "cauchy"}
        The prior of ``σ``: half-normal ``N⁺(0, sigma_prior)`` or half-Cauchy
        ``Cauchy⁺(0, sigma_prior)`` (hBayesDM's ``sigma ~ cauchy(0, 1)`` for some unbounded parameters).
    """

    name: str
    model_param: str
    transform: str
    scale: float = 1.0
    lower: float = 0.0
    link: str = "identity"
    mu_prior: tuple[float, float] = (0.0, 1.0)
    sigma_prior: float = 0.2
    sigma_family: str = "normal"

    def sigma_log_prior(self, sigma: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """``(log p(σ), σ · d log p(σ)/dσ)`` of the group sd's prior, normalising constant included
        (the derivative along ``log σ``, the scale the sampler moves on; its Jacobian is not here)."""
        q = np.asarray(sigma, dtype=float) / self.sigma_prior
        if self.sigma_family == "cauchy":
            return math.log(2.0 / (math.pi * self.sigma_prior)) - np.log1p(q * q), -2.0 * q * q / (
                1.0 + q * q
            )
        return math.log(2.0 / self.sigma_prior) - 0.5 * math.log(2.0 * math.pi) - 0.5 * q * q, -q * q

    def to_natural(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``v = T(z)``, the reported (natural-scale) value."""
        z = np.asarray(z, dtype=float)
        if self.transform == "phi":
            return self.lower + self.scale * phi_approx(z)
        if self.transform == "exp":
            return self.lower + np.exp(z)
        return z.copy()

    def derivative(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``dv/dz``."""
        z = np.asarray(z, dtype=float)
        if self.transform == "phi":
            return self.scale * _phi_approx_derivative(z)
        if self.transform == "exp":
            return np.exp(z)
        return np.ones_like(z)

    def to_model(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        """The choice model's parameter ``θ = g(v)``."""
        if self.link == "reciprocal":
            with np.errstate(divide="ignore"):
                return 1.0 / v
        return v

    def model_derivative(self, v: NDArray[np.float64], theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """``dθ/dv`` at ``v`` (``θ = g(v)``): ``-θ²`` for the reciprocal."""
        if self.link == "reciprocal":
            return -theta * theta
        return np.ones_like(v)


@dataclass(frozen=True)
class HierModel:
    """A hierarchical model: a choice model and a :class:`HierParam` per parameter.

    Attributes
    ----------
    name : str
        ``"bandit2arm_delta"`` or the choice model's spec.
    model : ChoiceModel
        Whose compiled likelihood (and gradient) gives the choices' probabilities.
    params : tuple of HierParam
        In the order of ``model.param_names``.
    hbayesdm : bool
        Reported as hBayesDM reports it: ``mu_pr`` and ``sigma`` vectors over ``parameter`` next to
        ``mu_<p>``; otherwise ``sigma_<p>``.
    n_actions, n_states : int or None
        What the data must have (``None``: any).
    """

    name: str
    model: ChoiceModel
    params: tuple[HierParam, ...]
    hbayesdm: bool = False
    n_actions: int | None = None
    n_states: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The reported parameter names."""
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        """Parameters per subject."""
        return len(self.params)


def _bandit2arm_delta() -> HierModel:
    # hBayesDM commons/stan_files/bandit2arm_delta.stan: A = Phi_approx(mu_pr[1] + sigma[1] A_pr),
    # tau = 5 Phi_approx(mu_pr[2] + sigma[2] tau_pr) (an inverse temperature: softmax(tau * ev));
    # mu_pr ~ N(0, 1), sigma ~ N+(0, 0.2); ev starts at 0, ev[c] += A (outcome - ev[c]): dopasoft's
    # model of the same name (the delta-rule family), whose likelihood is that model block.
    return HierModel(
        name="bandit2arm_delta",
        model=get_model("bandit2arm_delta"),
        params=(HierParam("A", "A", "phi", scale=1.0), HierParam("tau", "tau", "phi", scale=5.0)),
        hbayesdm=True,
        n_actions=2,
        n_states=1,
    )


def _ts(n_params: int):
    """hBayesDM's two-step models ts_par7, ts_par6, ts_par4 (commons/stan_files/ts_par<n>.stan) on
    dopasoft's ``daw-hybrid``, ``daw-hybrid-6``, ``daw-hybrid-4``, whose likelihood is the Stan
    ``model`` block's (trans_prob 0.7, values 0 at the start, no perseveration on the first trial)."""
    # learning rates, w, lambda: Phi_approx(mu_pr + sigma * raw); inverse temperatures: exp(...);
    # pi: 5 Phi_approx(...); mu_pr ~ N(0, 1), sigma ~ N+(0, 0.2) for every parameter.
    unit = dict(transform="phi", scale=1.0)
    names = {
        7: (
            ("a1", "alpha1", unit),
            ("beta1", "beta1", dict(transform="exp")),
            ("a2", "alpha2", unit),
            ("beta2", "beta2", dict(transform="exp")),
            ("pi", "pers", dict(transform="phi", scale=5.0)),
            ("w", "w", unit),
            ("lambda", "lam", unit),
        ),
        6: (
            ("a1", "alpha1", unit),
            ("beta1", "beta1", dict(transform="exp")),
            ("a2", "alpha2", unit),
            ("beta2", "beta2", dict(transform="exp")),
            ("pi", "pers", dict(transform="phi", scale=5.0)),
            ("w", "w", unit),
        ),
        4: (
            ("a", "alpha", unit),
            ("beta", "beta", dict(transform="exp")),
            ("pi", "pers", dict(transform="phi", scale=5.0)),
            ("w", "w", unit),
        ),
    }[n_params]
    spec = {7: "daw-hybrid", 6: "daw-hybrid-6", 4: "daw-hybrid-4"}[n_params]

    def build() -> HierModel:
        return HierModel(
            name=f"ts_par{n_params}",
            model=get_model(spec),
            params=tuple(HierParam(name, param, **how) for name, param, how in names),
            hbayesdm=True,
        )

    return build


# hBayesDM's other models (commons/stan_files/<name>.stan), on dopasoft's families of the same name,
# whose likelihoods are the Stan model blocks: per parameter (name, transform), in the Stan order;
# unbounded ones (identity) have mu_pr ~ N(0, 10) and sigma ~ cauchy(0, 1) where the file says so.
_UNIT = dict(transform="phi", scale=1.0)
_POS = dict(transform="exp")
_FREE_WIDE = dict(transform="identity", mu_prior=(0.0, 10.0), sigma_prior=1.0, sigma_family="cauchy")
_STAN_LAYOUTS = {
    # gng_m*.stan: xi, ep Phi_approx; b, pi identity, mu_pr ~ N(0, 10), sigma ~ cauchy(0, 1); rho* exp
    "gng_m1": (("xi", _UNIT), ("ep", _UNIT), ("rho", _POS)),
    "gng_m2": (("xi", _UNIT), ("ep", _UNIT), ("b", _FREE_WIDE), ("rho", _POS)),
    "gng_m3": (("xi", _UNIT), ("ep", _UNIT), ("b", _FREE_WIDE), ("pi", _FREE_WIDE), ("rho", _POS)),
    "gng_m4": (
        ("xi", _UNIT),
        ("ep", _UNIT),
        ("b", _FREE_WIDE),
        ("pi", _FREE_WIDE),
        ("rhoRew", _POS),
        ("rhoPun", _POS),
    ),
    # prl_fictitious.stan: eta Phi_approx; alpha identity, mu_pr ~ N(0, 1), sigma ~ cauchy(0, 1);
    # beta 10 Phi_approx
    "prl_fictitious": (
        ("eta", _UNIT),
        ("alpha", dict(transform="identity", sigma_prior=1.0, sigma_family="cauchy")),
        ("beta", dict(transform="phi", scale=10.0)),
    ),
    # prl_rp.stan: Apun, Arew Phi_approx, beta 10 Phi_approx
    "prl_rp": (("Apun", _UNIT), ("Arew", _UNIT), ("beta", dict(transform="phi", scale=10.0))),
    # bandit4arm_4par.stan: Arew, Apun Phi_approx; R, P 30 Phi_approx
    "bandit4arm_4par": (
        ("Arew", _UNIT),
        ("Apun", _UNIT),
        ("R", dict(transform="phi", scale=30.0)),
        ("P", dict(transform="phi", scale=30.0)),
    ),
}
_STAN_SIZES = {"prl_fictitious": (2, 1), "prl_rp": (2, 1)}  # (actions, states) the data must have


def _stan_model(name: str):
    """hBayesDM's ``name`` on dopasoft's model of the same name; every other prior is hBayesDM's
    default, ``mu_pr ~ N(0, 1)``, ``sigma ~ N⁺(0, 0.2)``."""

    def build() -> HierModel:
        n_actions, n_states = _STAN_SIZES.get(name, (None, None))
        return HierModel(
            name=name,
            model=get_model(name),
            params=tuple(HierParam(p, p, **how) for p, how in _STAN_LAYOUTS[name]),
            hbayesdm=True,
            n_actions=n_actions,
            n_states=n_states,
        )

    return build


HBAYESDM_MODELS = {
    "bandit2arm_delta": _bandit2arm_delta,
    "ts_par7": _ts(7),
    "ts_par6": _ts(6),
    "ts_par4": _ts(4),
    **{name: _stan_model(name) for name in _STAN_LAYOUTS},
}
"""hBayesDM models by name, each built exactly as its Stan file defines it."""

#: median temperature (reward units) of the default group prior of Soft Q temperatures
TAU_PRIOR_MEDIAN = 0.2

DEFAULT_PRIORS: dict[str, dict] = {
    "unit": dict(transform="phi", scale=1.0, mu_prior=(0.0, 1.0), sigma_prior=0.2),
    "temperature": dict(transform="exp", mu_prior=(math.log(TAU_PRIOR_MEDIAN), 1.0), sigma_prior=0.5),
    "real": dict(transform="identity", mu_prior=(0.0, 1.0), sigma_prior=1.0),
}
"""The Soft Q models' default hierarchical prior by kind of parameter (docs/fitting.md, "Full Bayes").

``unit`` (domain [0, 1]: learning rates, ``lam``, ``alpha_pi``): ``θ = Φ≈(z)``, ``μ ~ N(0, 1)``,
``σ ~ N⁺(0, 0.2)`` as hBayesDM; ``temperature`` (``tau``, domain (0, ∞), reward units):
``θ = exp(z)``, ``μ ~ N(log 0.2, 1)``, ``σ ~ N⁺(0, 0.5)``; ``real`` (``kappa``, ``go_bias``, log-odds):
``θ = z``, ``μ ~ N(0, 1)``, ``σ ~ N⁺(0, 1)``."""


def _kind(model: ChoiceModel, name: str) -> str:
    p = model.parameter(name)
    lo, hi = p.domain
    if lo == 0.0 and hi == 1.0:
        return "unit"
    if lo == 0.0 and math.isinf(hi):
        return "temperature"
    if math.isinf(lo) and math.isinf(hi):
        return "real"
    raise ValueError(f"model {model.spec!r}: no default hierarchical prior for {name!r} on {p.domain_text()}")


def _with_prior(hm: HierModel, prior: Mapping | None) -> HierModel:
    """``hm`` with the group priors of ``prior``: ``{name: {"mu": (mean, sd), "sigma": scale}}``."""
    if not prior:
        return hm
    if not isinstance(prior, Mapping):
        raise ValueError(
            f"prior must be a dict {{name: {{'mu': (mean, sd), 'sigma': scale}}}}, got {prior!r}"
        )
    params = list(hm.params)
    for name, spec in prior.items():
        where = [i for i, p in enumerate(params) if p.name == name]
        if not where:
            raise ValueError(
                f"prior: unknown parameter {name!r} of {hm.name!r}; parameters are {list(hm.names)}"
            )
        if not isinstance(spec, Mapping) or set(spec) - {"mu", "sigma"}:
            raise ValueError(
                f"prior[{name!r}] must be a dict with keys 'mu' (mean, sd) and/or 'sigma' (scale)"
            )
        p = params[where[0]]
        mu = p.mu_prior
        if "mu" in spec:
            try:
                mu = (float(spec["mu"][0]), float(spec["mu"][1]))
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"prior[{name!r}]['mu'] must be (mean, sd), got {spec['mu']!r}") from None
        sig = float(spec["sigma"]) if "sigma" in spec else p.sigma_prior
        if not (
            math.isfinite(mu[0]) and mu[1] > 0 and math.isfinite(mu[1]) and sig > 0 and math.isfinite(sig)
        ):
            raise ValueError(
                f"prior[{name!r}]: need a finite mean and positive finite scales, got {dict(spec)}"
            )
        params[where[0]] = replace(p, mu_prior=mu, sigma_prior=sig)
    return replace(hm, params=tuple(params))


def hierarchical_model(model: str | ChoiceModel | HierModel, prior: Mapping | None = None) -> HierModel:
    """The hierarchical model called ``model``, with the group priors of ``prior`` replacing defaults.

    Parameters
    ----------
    model : str, ChoiceModel or HierModel
        An hBayesDM model name (:data:`HBAYESDM_MODELS`: ``"bandit2arm_delta"``, ``"ts_par7"``,
        ``"ts_par6"``, ``"ts_par4"``, ``"gng_m1"`` … ``"gng_m4"``, ``"prl_fictitious"``, ``"prl_rp"``,
        ``"bandit4arm_4par"``) or a Soft Q model
        (name, spec or object: ``"soft-q"``, ``"soft-q-lambda+kappa"``).
    prior : dict, optional
        ``{name: {"mu": (mean, sd), "sigma": scale}}``: the normal prior of a group mean and the
        scale of the prior of a group sd (half-normal, or half-Cauchy where hBayesDM's is), on the
        unconstrained scale; parameters not named keep
        their default (:data:`DEFAULT_PRIORS`; hBayesDM's for its models).

    Examples
    --------
    >>> from dopasoft.fitting.bayes.models import hierarchical_model
    >>> hm = hierarchical_model("bandit2arm_delta")
    >>> hm.names, hm.model.spec
    (('A', 'tau'), 'bandit2arm_delta')
    >>> [(p.name, p.transform, p.mu_prior, p.sigma_prior) for p in hierarchical_model("soft-q+kappa").params]
    [('alpha', 'phi', (0.0, 1.0), 0.2), ('tau', 'exp', (-1.6094379124341003, 1.0), 0.5), ('kappa', 'identity', (0.0, 1.0), 1.0)]
    """
    if isinstance(model, HierModel):
        return _with_prior(model, prior)
    if isinstance(model, str) and model in HBAYESDM_MODELS:
        return _with_prior(HBAYESDM_MODELS[model](), prior)
    try:
        m = get_model(model)
    except ValueError as err:
        raise ValueError(f"{err}; or one of the hBayesDM models {sorted(HBAYESDM_MODELS)}") from None
    if not isinstance(m, SoftQLambdaModel):
        hint = {
            "daw-hybrid": "ts_par7",
            "daw-hybrid-6": "ts_par6",
            "daw-hybrid-4": "ts_par4",
        }.get(m.spec)
        raise ValueError(
            f"model {m.spec!r}: full Bayes covers the Soft Q models and the hBayesDM models "
            f"{sorted(HBAYESDM_MODELS)} so far"
            + (f" (for this model with hBayesDM's group prior: {hint!r})" if hint else "")
        )
    params = tuple(HierParam(name, name, **DEFAULT_PRIORS[_kind(m, name)]) for name in m.param_names)
    return _with_prior(HierModel(name=m.spec, model=m, params=params), prior)

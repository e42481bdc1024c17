"""Choice models, one module per family, and the registry that builds them by name.

Each family module (:mod:`~dopasoft.fitting.models.soft_q_lambda`,
:mod:`~dopasoft.fitting.models.daw_hybrid`, and hBayesDM's :mod:`~dopasoft.fitting.models.gng`,
:mod:`~dopasoft.fitting.models.delta_rule`, :mod:`~dopasoft.fitting.models.bandit4arm`) declares a
:class:`~dopasoft.fitting.models.base.ModelFamily`: its model names, its options, its parameter table
(name, bounds, start range, domain, symbol, unit) and the model class whose hooks the engine calls
(likelihood, gradient, simulation). Adding a family is adding a module and listing it in
:data:`FAMILIES` (docs/architecture.md, "Adding a model family").
"""

from __future__ import annotations

from typing import Any

from dopasoft.fitting.models import bandit4arm, daw_hybrid, delta_rule, gng, soft_q_lambda
from dopasoft.fitting.models.bandit4arm import RewardPunishmentModel
from dopasoft.fitting.models.base import ChoiceModel, ModelFamily, Option, Parameter
from dopasoft.fitting.models.daw_hybrid import HybridModel
from dopasoft.fitting.models.delta_rule import DeltaRuleModel
from dopasoft.fitting.models.gng import GoNoGoModel
from dopasoft.fitting.models.soft_q_lambda import SoftQLambdaModel

__all__ = [
    "Parameter",
    "Option",
    "ChoiceModel",
    "ModelFamily",
    "SoftQLambdaModel",
    "HybridModel",
    "GoNoGoModel",
    "DeltaRuleModel",
    "RewardPunishmentModel",
    "FAMILIES",
    "MODEL_NAMES",
    "get_model",
    "family_of",
    "parameter_labels",
    "model_from_columns",
]

FAMILIES: tuple[ModelFamily, ...] = (
    soft_q_lambda.FAMILY,
    daw_hybrid.FAMILY,
    gng.FAMILY,
    delta_rule.FAMILY,
    bandit4arm.FAMILY,
)
"""The registered model families, in the order models are listed."""

MODEL_NAMES: tuple[str, ...] = tuple(name for fam in FAMILIES for name in fam.models)
"""Every model name :func:`get_model` accepts."""


def family_of(name: str) -> ModelFamily:
    """The family serving model ``name`` (``ValueError`` listing the known models otherwise)."""
    for fam in FAMILIES:
        if name in fam.models:
            return fam
    raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")


def _parse_spec(spec: str, family: ModelFamily) -> dict[str, Any]:
    """Options written in a model spec (``"soft-q+kappa+gamma=0.9"`` -> ``{"kappa": True, "gamma": "0.9"}``)."""
    out: dict[str, Any] = {}
    for part in spec.split("+")[1:]:
        key, sep, val = part.strip().partition("=")
        opt = family.option(key)
        if opt is None:
            other = [f for f in FAMILIES if f.option(key) is not None]
            if other:
                raise ValueError(f"model spec {spec!r}: {key} applies to the {other[0].title} models only")
            listed = ", ".join(
                o.name if isinstance(o.default, bool) else f"{o.name}=…" for o in family.options
            )
            raise ValueError(f"model spec {spec!r}: unknown option {part!r}; options are {listed}")
        if isinstance(opt.default, bool):
            if sep:
                raise ValueError(f"model spec {spec!r}: write the option {key} as +{key}, without a value")
            out[key] = True
        elif not sep:
            raise ValueError(f"model spec {spec!r}: option {key} needs a value (+{key}=…)")
        elif key in out and out[key] != val:
            raise ValueError(f"model spec {spec!r} gives {key} twice ({out[key]} and {val})")
        else:
            out[key] = val
    return out


def get_model(name: str | ChoiceModel, **options: Any) -> ChoiceModel:
    """Return the choice model called ``name``.

    Parameters
    ----------
    name : str or ChoiceModel
        ``"soft-q-lambda"`` (tree-backup), ``"soft-q-lambda-on-policy"``,
        ``"soft-q-lambda-uncorrected"``, ``"soft-q"`` (λ = 0, one-step soft Q-learning; the natural
        model for bandits), ``"daw-hybrid"`` (hBayesDM ``ts_par7``), ``"daw-hybrid-6"`` (``ts_par6``),
        ``"daw-hybrid-4"`` (``ts_par4``); hBayesDM's ``"gng_m1"`` … ``"gng_m4"``, ``"prl_fictitious"``,
        ``"prl_rp"``, ``"bandit2arm_delta"``, ``"bandit4arm_4par"`` under their hBayesDM names and
        parameters (docs/fitting.md, "hBayesDM's models"); see :data:`MODEL_NAMES`. A :class:`ChoiceModel` is returned
        unchanged. ``name`` may also be a model's :attr:`ChoiceModel.spec`, the name followed by
        ``+option`` for each non-default option (``"soft-q-lambda+kappa+separate_alpha"``,
        ``"soft-q+gamma=0.9"``, ``"daw-hybrid+trans_prob=0.8"``), so that ``get_model(m.spec) == m``;
        options in the spec override the keyword arguments.
    **options
        The family's options. Soft Q models: ``kappa`` (add the first-stage stickiness ``kappa``),
        ``separate_alpha`` / ``separate_tau`` (a learning rate / temperature per stage), ``gamma``
        (discount, default 1), ``trace_mode`` (``"accumulating"`` or ``"replacing"``). Hybrid models:
        ``trans_prob`` (probability of the common transition, 0.7). Another family's option at its
        default value is ignored, so one set of keywords can build any model.

    Raises
    ------
    ValueError
        Unknown model name, unknown option, an option of another family, or an invalid value.

    Examples
    --------
    >>> from dopasoft.fitting import get_model
    >>> m = get_model("soft-q-lambda", kappa=True)
    >>> m.param_names, m.spec
    (('alpha', 'tau', 'lam', 'kappa'), 'soft-q-lambda+kappa')
    >>> get_model("daw-hybrid-4").parameter("beta").label
    'β, inverse temp. (1/reward units)'
    """
    if isinstance(name, ChoiceModel):
        return name
    if not isinstance(name, str):
        raise ValueError(f"model must be a model name or a ChoiceModel, got {type(name).__name__}")
    base = name.split("+")[0].strip()
    family = family_of(base)
    given = dict(options)
    given.update(_parse_spec(name, family) if "+" in name else {})
    chosen = family.defaults()
    for key, value in given.items():
        opt = family.option(key)
        if opt is None:
            other = [f for f in FAMILIES if f.option(key) is not None]
            if not other:
                raise ValueError(f"model {base!r}: unknown option {key!r}; options are {list(chosen)}")
            if value != other[0].option(key).default:
                raise ValueError(f"model {base!r}: {key} applies to the {other[0].title} models only")
            continue
        chosen[key] = opt.check(value, where=f"model {name!r}" if "+" in name else "")
    return family.build(base, chosen)


def model_from_columns(name: str, columns) -> ChoiceModel:
    """The variant of ``name`` (its boolean options) whose parameters are all among ``columns`` and
    that uses the most of them: how a fits table with a plain model name is read."""
    names = set(columns)
    best = None
    for m in family_of(name).variants(name):
        if set(m.param_names) <= names and (best is None or m.n_params > best.n_params):
            best = m
    return best if best is not None else get_model(name)


def parameter_labels() -> dict[str, str]:
    """Axis label of every parameter name of every registered family (the first family declaring a
    name wins), e.g. ``{"tau": "τ, temperature (reward units)", ...}``."""
    out: dict[str, str] = {}
    for fam in FAMILIES:
        for name in fam.models:
            for model in fam.variants(name):
                for p in model.params:
                    out.setdefault(p.name, p.label)
    return out

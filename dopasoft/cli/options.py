"""Options shared by the sub-commands: one spelling, one check and one help text each.

Every sub-command builds its common options here (``--model``, ``--param``, ``--n-subjects``,
``--n-trials``, ``--seed``, ``--out``, ``--quiet``) and prints its summary with :func:`summary`, so the
command line reads the same everywhere (docs/reliability.md, "The command line"). A bad value is an
``argparse`` error naming the option (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "model_spec",
    "two_step_model_spec",
    "model_names_text",
    "add_model_option",
    "add_param_option",
    "params_from_items",
    "name_values",
    "float_pair",
    "positive_int",
    "non_negative_int",
    "seed_value",
    "add_seed_option",
    "add_n_subjects_option",
    "add_n_trials_option",
    "add_quiet_option",
    "summary",
]


def model_spec(text: str) -> str:
    """A model spec as ``dopasoft.fitting.get_model`` parses it (``soft-q-lambda+kappa+habit``).

    Used as the ``type`` of ``--model``: an unknown name or option is refused by ``get_model``'s own
    message (which names the bad part and lists the valid names or options).

    Raises
    ------
    argparse.ArgumentTypeError
        The spec does not name a model.
    """
    from dopasoft.fitting.models import get_model

    try:
        get_model(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def two_step_model_spec(text: str) -> str:
    """A model spec for ``simulate two-step``: a fitting model spec or the agent ``soft-hybrid``."""
    from dopasoft.agents import TWO_STEP_MODELS

    if text in TWO_STEP_MODELS:
        return text
    try:
        return model_spec(text)
    except argparse.ArgumentTypeError as err:
        from dopasoft.fitting.models import MODEL_NAMES

        if text.split("+")[0].strip() in MODEL_NAMES:
            raise
        raise argparse.ArgumentTypeError(f"{err}, or the simulation-only agent 'soft-hybrid'") from None


def model_names_text() -> str:
    """The model names and the options of each family, for help texts."""
    from dopasoft.fitting.models import FAMILIES

    lines = []
    for fam in FAMILIES:
        opts = ", ".join(
            f"+{o.name}" if isinstance(o.default, bool) else f"+{o.name}=..." for o in fam.options
        )
        lines.append(f"{fam.title} models: {', '.join(fam.models)}" + (f"; options {opts}" if opts else ""))
    return "; ".join(lines)


def add_model_option(
    p: argparse.ArgumentParser, *, required: bool = True, help: str | None = None, two_step: bool = False
) -> None:
    """``--model SPEC``: a model name followed by ``+option`` parts, as ``get_model`` takes it."""
    default_help = (
        "model spec: a model name and its options as +option or +option=value, e.g. "
        "soft-q-lambda+kappa+habit, daw-hybrid+trans_prob=0.8 (docs/fitting.md)"
    )
    p.add_argument(
        "--model",
        required=required,
        type=two_step_model_spec if two_step else model_spec,
        metavar="SPEC",
        help=help or default_help,
    )


def name_values(
    items: list[str], option: str, form: str, parse: Callable[[str], Any], bad: str | None = None
) -> dict[str, Any]:
    """Repeated ``NAME=VALUE`` options (``--fix``, ``--param``, ``--bound``, ``--prior``) as a dict.

    The one parser of every such option, so all refuse alike (``ValueError``, one line in the user's
    terms): an item without ``=`` or a name (``--fix expects NAME=VALUE, got 'alpha'``), a value
    ``parse`` refuses (``--fix 'alpha=x': 'x' is not a number``, or ``bad`` when given), and a name
    given twice with different values (``option --fix gives alpha twice (0.3 and 0.6)``): the last
    value does not silently win. The same value twice (``0.3`` and ``0.30``) is accepted.

    Parameters
    ----------
    items : list of str
        The option's values as given (``action="append"``).
    option : str
        The option as the user writes it (``--fix``).
    form : str
        The expected form for messages (``NAME=VALUE``, ``NAME=LO:HI``).
    parse : callable
        Text after ``=`` to a value; raises ``ValueError`` for a bad one.
    bad : str, optional
        The message's explanation of a bad value (default: ``'<text>' is not a number``).
    """
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"{option} expects {form}, got {item!r}")
        try:
            value = parse(text)
        except ValueError:
            raise ValueError(f"{option} {item!r}: {bad or f'{text!r} is not a number'}") from None
        if name in out and not _same(out[name], value):
            raise ValueError(f"option {option} gives {name} twice ({given[name].strip()} and {text.strip()})")
        out[name], given[name] = value, text
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal values (NaN equal to NaN, so a repeated ``nan`` is a repeat, not a contradiction)."""
    a_t, b_t = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
    return len(a_t) == len(b_t) and all(x == y or (x != x and y != y) for x, y in zip(a_t, b_t, strict=True))


def float_pair(separator: str) -> Callable[[str], tuple[float, float]]:
    """A parser of ``A<separator>B`` into two floats (``--bound`` ``LO:HI``, ``--prior`` ``MEAN,SD``)."""

    def parse(text: str) -> tuple[float, float]:
        a, sep, b = text.partition(separator)
        if not sep:
            raise ValueError(text)
        return float(a), float(b)

    return parse


def params_from_items(items: list[str]) -> dict[str, float]:
    """``--param NAME=VALUE`` options as a dict; ``ValueError`` naming a malformed or repeated one."""
    return name_values(items, "--param", "NAME=VALUE", float)


def add_param_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--param NAME=VALUE`` (repeatable): one model parameter value."""
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help=help)


def _int_at_least(text: str, minimum: int, words: str) -> int:
    """``int(text)`` if it is at least ``minimum``, else ``ArgumentTypeError("must be <words>, ...")``."""
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {words}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (``type`` of the count options)."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer >= 0 (``type`` of e.g. ``dopasoft sample --tune``)."""
    return _int_at_least(text, 0, "an integer >= 0")


def seed_value(text: str) -> int:
    """A seed: an integer >= 0 (what ``numpy.random.default_rng`` takes)."""
    return non_negative_int(text)


def add_seed_option(p: argparse.ArgumentParser, what: str = "the simulation") -> None:
    """``--seed S`` (default 0), checked by :func:`seed_value`."""
    p.add_argument("--seed", type=seed_value, default=0, metavar="S", help=f"seed of {what} (default 0)")


def add_n_subjects_option(
    p: argparse.ArgumentParser, default: int | None, help: str, *, required: bool = False
) -> None:
    """``--n-subjects N`` (a positive integer)."""
    p.add_argument(
        "--n-subjects", type=positive_int, default=default, required=required, metavar="N", help=help
    )


def add_n_trials_option(p: argparse.ArgumentParser, default: int | None, help: str) -> None:
    """``--n-trials N`` (a positive integer)."""
    p.add_argument("--n-trials", type=positive_int, default=default, metavar="N", help=help)


def add_quiet_option(p: argparse.ArgumentParser, what: str = "no summary line") -> None:
    """``--quiet``: nothing on stderr but errors and warnings."""
    p.add_argument("--quiet", action="store_true", help=what)


def summary(args: Any, text: str) -> None:
    """Print ``dopasoft <command>: <text>`` on stderr (unless ``--quiet``).

    Summaries and progress go to stderr; stdout carries only what was asked for (``--help``,
    ``--version``), so a command's output can be piped without its chatter.
    """
    if getattr(args, "quiet", False):
        return
    command = getattr(args, "command", None) or ""
    if command == "simulate":  # its sub-command: simulate two-step, ...
        command = f"{command} {args.task}"
    print(f"dopasoft {command}: {text}", file=sys.stderr)

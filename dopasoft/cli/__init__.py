"""The ``dopasoft`` command line: one sub-command per job, each registered by its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module named here exposes ``register(subparsers)`` which adds its sub-command and sets
# ``func`` (called with the parsed namespace, returning an exit code) as the parser default.
_COMMAND_MODULES = ("demo", "simulate", "fit", "recover", "figures")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="dopasoft",
        description="Soft Q(lambda) agents: model dopamine, task simulation and choice-model fitting.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"dopasoft.cli.{name}")
        except ModuleNotFoundError as err:  # a sub-command not built yet
            if err.name != f"dopasoft.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dopasoft`` console script and of ``python -m dopasoft``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"dopasoft {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dopasoft {args.command}: interrupted", file=sys.stderr)
        return 130

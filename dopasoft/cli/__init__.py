"""The ``dopasoft`` command line: one sub-command per job, each registered by its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

# Each module named here exposes ``register(subparsers)`` which adds its sub-command and sets
# ``func`` (called with the parsed namespace, returning an exit code) as the parser default.
_COMMAND_MODULES = ("demo", "simulate", "fit", "replay", "recover", "figures", "sample")


FIGURE_FORMATS = ("png", "pdf", "svg")


def parse_formats(text: str) -> tuple[str, ...]:
    """Figure formats from a comma-separated ``--format`` value; ``ValueError`` for unknown ones."""
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    if not formats or any(f not in FIGURE_FORMATS for f in formats):
        raise ValueError(f"--format takes png, pdf and/or svg (comma-separated), got {text!r}")
    return formats


def report_written(
    command: str,
    written: Sequence[Path],
    out: str | Path,
    formats: Sequence[str],
    seconds: float | None = None,
    quiet: bool = False,
) -> None:
    """Print on stderr where a command wrote its figures and tables: a one-line summary, then the
    figure and table names (nothing with ``quiet``)."""
    if quiet:
        return
    took = "" if seconds is None else f" in {seconds:.1f} s"
    figures = sorted({p.stem for p in written if p.suffix != ".csv"})
    tables = sorted(p.name for p in written if p.suffix == ".csv")
    print(
        f"dopasoft {command}: wrote {len(figures)} figures ({', '.join(formats)}) and {len(tables)} CSV "
        f"tables to {Path(out).resolve()}{took}",
        file=sys.stderr,
    )
    print(f"  figures: {', '.join(figures) or 'none'}", file=sys.stderr)
    print(f"  tables: {', '.join(tables) or 'none'}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every available sub-command."""
    from dopasoft import __version__

    parser = argparse.ArgumentParser(
        prog="dopasoft",
        description="Soft Q(lambda) agents: model dopamine, task simulation and choice-model fitting.",
        epilog="Each command prints a one-line summary of what it wrote on stderr (--quiet: none); "
        "stdout carries only what was asked for (--help, --version). A usage error exits with status 2.",
    )
    parser.add_argument("--version", action="version", version=f"dopasoft {__version__}")
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
    except (ValueError, OSError) as err:  # bad input, options or files: one line, no traceback
        print(f"dopasoft {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dopasoft {args.command}: interrupted", file=sys.stderr)
        return 130

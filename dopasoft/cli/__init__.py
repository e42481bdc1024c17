"""The ``dopasoft`` command line: one sub-command per job, each registered by its own module."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
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


def interrupted(err: BaseException) -> bool:
    """Whether ``err`` is Ctrl-C: a ``KeyboardInterrupt``, or a ``SystemError`` caused by one.

    A Ctrl-C that lands while a compiled (numba) function returns can come out as ``SystemError:
    CPUDispatcher(...) returned a result with an exception set``, the ``KeyboardInterrupt`` in its
    ``__context__`` or ``__cause__``.
    """
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        if not isinstance(err, SystemError):
            return False
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


_received: list[int] = []  # Ctrl-C seen by the handler of ``catching_interrupts`` (also if swallowed)


def interrupt_pending() -> bool:
    """Whether Ctrl-C was pressed during this command, even if the ``KeyboardInterrupt`` it raised was
    swallowed (one raised inside a compiler callback is printed as "Exception ignored" and lost)."""
    return bool(_received)


def check_interrupt() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed and its exception lost (call between steps)."""
    if _received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def catching_interrupts() -> Iterator[None]:
    """Record every Ctrl-C (SIGINT) of the block, and hide the "Exception ignored" report of one
    swallowed by a callback (llvmlite's, while numba compiles): :func:`check_interrupt` raises it again."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        _received.append(signum)
        raise KeyboardInterrupt

    def unraisable(info, default=sys.unraisablehook):
        if not (isinstance(info.exc_value, KeyboardInterrupt) and _received):
            default(info)

    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:  # started with Ctrl-C ignored (a background job): keep it so
        yield
        return
    hook = sys.unraisablehook
    signal.signal(signal.SIGINT, handler)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dopasoft`` console script and of ``python -m dopasoft``.

    Ctrl-C at any moment (reading options, compiling, fitting, writing) ends the command with
    ``dopasoft <command>: interrupted`` on stderr and exit status 130; rows already written stay.
    """
    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), "")
    with catching_interrupts():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            command = getattr(args, "command", None) or command
            if getattr(args, "func", None) is None:
                parser.print_help()
                return 2
            try:
                code = int(args.func(args) or 0)
            except (ValueError, OSError) as err:  # bad input, options or files: one line, no traceback
                if interrupt_pending():
                    raise
                print(f"dopasoft {args.command}: error: {err}", file=sys.stderr)
                return 2
            check_interrupt()  # a Ctrl-C swallowed on the way still ends as one
            return code
        except (KeyboardInterrupt, Exception) as err:
            # an error raised after a Ctrl-C is its consequence (numba's compiler, interrupted half-way,
            # raises "no compiled object yet"): the command was interrupted
            if not (interrupted(err) or interrupt_pending()):
                raise
            print(f"dopasoft{' ' + command if command else ''}: interrupted", file=sys.stderr)
            return 130

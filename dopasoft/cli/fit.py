"""``dopasoft fit``: per-subject maximum-likelihood fits, written as they finish (resumable)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from dopasoft._memory import require_memory
from dopasoft.cli import check_interrupt
from dopasoft.cli.manifest import (
    fit_manifest,
    manifest_differences,
    manifest_path,
    read_manifest,
    write_manifest,
)
from dopasoft.cli.options import (
    add_model_option,
    add_quiet_option,
    add_seed_option,
    float_pair,
    name_values,
    summary,
)
from dopasoft.cli.outputs import output_file
from dopasoft.fitting.compilation import prepare_fit
from dopasoft.fitting.data import read_choices, read_csv_keeping_ids, to_transitions
from dopasoft.fitting.mle import iter_fit
from dopasoft.fitting.models import get_model


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model SPEC`` and the fitting options shared by ``fit`` and ``recover``.

    A model's options are written in its spec (``soft-q-lambda+kappa+habit``, ``daw-hybrid+trans_prob=0.8``),
    as :func:`dopasoft.fitting.get_model` takes them: there is no second way (no per-option flag).
    """
    add_model_option(p)
    p.add_argument("--n-starts", type=int, default=10, metavar="N", help="starts per subject (default 10)")
    add_seed_option(p, "the random starts")
    p.add_argument(
        "--fix", action="append", default=[], metavar="NAME=VALUE", help="hold a parameter fixed (repeatable)"
    )
    p.add_argument(
        "--bound",
        action="append",
        default=[],
        metavar="NAME=LO:HI",
        help="replace a parameter's bounds (repeatable)",
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=20,
        metavar="N",
        help="subjects fitted per batch, written when the batch finishes (default 20)",
    )


def add_data_size_options(p: argparse.ArgumentParser) -> None:
    """``--n-actions`` / ``--n-states``: sizes of bandit and step-format data when not every code occurs."""
    for what in ("actions", "states"):
        p.add_argument(
            f"--n-{what}",
            type=int,
            default=None,
            metavar="K",
            help=f"bandit/step-format data: number of {what} when not all occur in the data "
            f"(codes 0..K-1; default: inferred from the codes present)",
        )


def model_from_args(args: argparse.Namespace):
    """Build the model (from the ``--model`` spec), fixed values and bounds from parsed options."""
    model = get_model(args.model)
    fixed = name_values(args.fix, "--fix", "NAME=VALUE", float)
    bounds = bounds_from_args(args.bound)
    return model, fixed, bounds


def bounds_from_args(items: list[str]) -> dict[str, tuple[float, float]]:
    """``--bound NAME=LO:HI`` options as the ``bounds`` of ``fit``."""
    return _pairs(items, "--bound", "NAME=LO:HI", ":", "bounds must be numbers")


def priors_from_args(items: list[str]) -> dict[str, tuple[float, float]] | None:
    """``--prior NAME=MEAN,SD`` options (Gaussian on the unbounded scale) as the ``prior`` of ``fit``."""
    return _pairs(items, "--prior", "NAME=MEAN,SD", ",", "mean and sd must be numbers") or None


def _pairs(
    items: list[str], option: str, form: str, separator: str, bad: str
) -> dict[str, tuple[float, float]]:
    # an item without the separator is malformed (the form), not a bad number
    for item in items:
        if separator not in item.partition("=")[2]:
            raise ValueError(f"{option} expects {form}, got {item!r}")
    return name_values(items, option, form, float_pair(separator), bad)


def fit_memory_bytes(n_subjects: int, n_starts: int, n_free: int, n_params: int) -> float:
    """Estimated bytes held at once while fitting one batch of ``n_subjects`` (all starts together).

    Per problem (subject x start): the BFGS inverse Hessian and its update temporaries
    (about 5 k x k matrices), about 15 vectors of length k, parameter and gradient arrays of the
    likelihood kernel, and a row of the per-start table (~100 bytes); per subject, the start-merging
    step compares every pair of starts (an ``n_starts x n_starts x k`` array of differences and its
    absolute value, plus a few boolean masks).
    """
    n = float(n_subjects) * n_starts
    k, p = n_free, n_params
    per_problem = 8.0 * (5 * k * k + 15 * k + 4 * p + 15) + 100.0
    merge = float(n_subjects) * n_starts * n_starts * (16.0 * k + 12.0) if n_starts > 1 else 0.0
    return n * per_problem + merge


def check_fit_memory(
    n_subjects: int, chunk_size: int | None, n_starts: int, n_free: int, n_params: int
) -> None:
    """Refuse (``ValueError`` with the estimate) a fit whose batches cannot fit in memory.

    ``chunk_size`` is the ``--chunk-size`` (``None``: all subjects in one batch, no such option).
    """
    batch = max(1, n_subjects if chunk_size is None else min(n_subjects, chunk_size))
    require_memory(
        fit_memory_bytes(batch, n_starts, n_free, n_params),
        f"--n-starts {n_starts} ({batch} subjects per batch x {n_starts} starts x {n_free} free parameters)",
        "use fewer starts (10 to 50 is usual)" + ("" if chunk_size is None else " or a smaller --chunk-size"),
    )


def _read_fits(path: str | os.PathLike) -> pd.DataFrame:
    """A fits CSV with subject identifiers exactly as written."""
    return read_csv_keeping_ids(path)


def _check_fits_header(out: str) -> None:
    """Refuse to resume into or replace a file that is not a fits table (even with ``--overwrite``)."""
    with open(out, "rb") as fh:
        first = fh.readline(65536)
    if not first or (not first.endswith(b"\n") and manifest_path(out).exists()):
        return  # empty, or the first write of a run cut short (its manifest exists): nothing finished
    header = first.rstrip(b"\r\n").decode("utf-8", "replace").split(",")
    if header[:1] != ["subject"] or "nll" not in header:
        raise ValueError(
            f"--out {out} exists and is not a dopasoft fits file (its header starts "
            f"{header[:5]}); it is left untouched, give another --out"
        )


def _resume(out: str, manifest: dict, ledger: Ledger) -> pd.DataFrame | None:
    """Finished rows of a previous run with the same manifest (``None``: start afresh).

    Refuses (``ValueError`` naming what differs) a fits file made with other data or options, a
    non-empty file without a manifest (an older dopasoft, or not a fits file) and a file whose header
    is not that of a fits file. A torn last line (a write cut short) is dropped; every other row is
    checked by ``ledger`` (:class:`Ledger`): rows that are not finished fits are set aside and their
    subjects fitted again.
    """
    mpath = manifest_path(out)
    if not os.path.exists(out):
        return None  # a manifest without fits (stopped before the first batch) is rewritten
    _check_fits_header(out)
    if os.path.getsize(out) == 0 and not mpath.exists():
        return None  # an empty file holds nothing to lose
    if not mpath.exists():
        raise ValueError(
            f"{out} has no run manifest ({mpath.name}): it was made by an older dopasoft, so the "
            "data and options behind it are unknown and it cannot be resumed; use another --out, "
            "or --overwrite to replace it"
        )
    old = read_manifest(mpath)
    diffs = manifest_differences(old, manifest)
    if diffs:
        raise ValueError(
            f"{out} was made with {'; and with '.join(diffs)}; use the same data and options to "
            "resume, or --overwrite to start afresh"
        )
    with open(out, "rb") as fh:
        raw = fh.read()
    if not raw.endswith(b"\n"):
        raw = raw[: raw.rfind(b"\n") + 1]
        _replace(out, raw)
    if not raw:
        return None
    ledger.check(out, raw)
    return _read_fits(out)


def _replace(path: str, raw: bytes) -> None:
    """Write ``raw`` to a temporary file and rename it over ``path`` (never a half-written file)."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def rejected_path(out: str | os.PathLike) -> str:
    """``<out>.rejected.csv``: rows of the fits file that resume set aside (not finished fits)."""
    return os.fspath(out) + ".rejected.csv"


def lock_path(out: str | os.PathLike) -> str:
    """``<out>.lock``: locked by the ``dopasoft fit`` writing ``out`` (holds its PID)."""
    return os.fspath(out) + ".lock"


class Ledger:
    """What a row of a fits file must be to count as a finished fit on resume.

    A row is a finished fit when it has the header's number of fields, a subject, its data's number
    of choices (``n_choices``), this run's ``model`` and ``seed``, ``True``/``False`` in ``converged``
    and ``at_bound``, finite numbers in every parameter column and ``nll``, ``nlp``, ``aic``, ``bic``,
    and ``aic``, ``bic`` that follow from ``nll`` (a subject with no valid choice has ``n_choices`` 0
    and empty numbers: that is its finished fit). Rows of subjects the data do not hold are kept as
    they are (after the others at the end) and count for no subject.

    Rows that fail are moved to ``<out>.rejected.csv`` and their subjects fitted again. A subject
    written several times identically keeps one row; written several times with different values, all
    its rows are set aside (which is right is unknown) and it is fitted again. One line on stderr says
    what was set aside or dropped (also with ``--quiet``: the file was changed).
    """

    NUMBERS = ("nll", "nlp", "aic", "bic")

    def __init__(self, model, tr, seed: int) -> None:
        self.params = tuple(model.param_names)
        self.spec = model.spec
        self.seed = str(seed)
        self.n_choices = {str(s): int(n) for s, n in zip(tr.subjects, tr.n_choices, strict=True)}

    def problem(self, header: list[str], fields: list[str]) -> str | None:
        """Why a row (its fields) is not a finished fit, or ``None`` if it is one."""
        if len(fields) != len(header):
            return f"{len(fields)} fields, the header has {len(header)}"
        row = dict(zip(header, fields, strict=True))
        subject = row["subject"]
        if not subject:
            return "no subject"
        try:
            n = int(row.get("n_choices", ""))
        except ValueError:
            return f"column 'n_choices' is {row.get('n_choices', '')!r}"
        known = self.n_choices.get(subject)
        if known is not None and n != known:
            return f"column 'n_choices' is {n}, the data hold {known} choices"
        if "model" in row and row["model"] != self.spec:
            return f"column 'model' is {row['model']!r}, not {self.spec!r}"
        if "seed" in row and row["seed"] != self.seed:
            return f"column 'seed' is {row['seed']!r}, not {self.seed}"
        for col in ("converged", "at_bound"):
            if col in row and row[col] not in ("True", "False"):
                return f"column {col!r} is {row[col]!r}"
        if n == 0:
            return None  # nothing to fit: NaN numbers are its finished fit
        for col in self.params + self.NUMBERS:
            if col not in row:
                continue
            try:
                ok = np.isfinite(float(row[col]))
            except ValueError:
                ok = False
            if not ok:
                return f"column {col!r} is {row[col]!r}" if row[col] else f"column {col!r} is empty"
        return self._inconsistent(row, n)

    @staticmethod
    def _inconsistent(row: dict[str, str], n_choices: int) -> str | None:
        """``aic = 2 nll + 2k`` and ``bic = 2 nll + k log n_choices`` as fit writes them: a row whose
        ``nll`` was changed (a torn write glued to another, an edit) fails."""
        if not all(c in row for c in ("nll", "aic", "bic", "n_free")):
            return None
        try:
            k = int(row["n_free"])
        except ValueError:
            return f"column 'n_free' is {row['n_free']!r}"
        nll = float(row["nll"])
        for col, want in (("aic", 2 * nll + 2 * k), ("bic", 2 * nll + k * np.log(max(n_choices, 1)))):
            if abs(float(row[col]) - want) > 1e-9 * max(1.0, abs(want)):
                return f"column {col!r} ({row[col]}) does not follow from nll {row['nll']} and n_free {k}"
        return None

    def check(self, out: str, raw: bytes) -> None:
        """Check every row of ``out`` (its bytes ``raw``, whole lines); rewrite it with the finished
        fits only, moving the others to ``<out>.rejected.csv``, and say so in one line."""
        lines = raw.decode("utf-8", "replace").splitlines(keepends=True)
        header = next(csv.reader([lines[0]]))
        missing = [c for c in ("subject", "n_choices", *self.params, "nll") if c not in header]
        if missing:
            raise ValueError(
                f"--out {out} has no column(s) {missing}, so its rows are not fits of --model {self.spec}; "
                "use another --out, or --overwrite to start afresh"
            )
        kept: dict[str, list[tuple[int, str, list[str]]]] = {}
        rejected: list[tuple[int, str, str]] = []  # (line number, line, reason)
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            fields = next(csv.reader([line]), [])
            why = self.problem(header, fields)
            if why is None:
                kept.setdefault(fields[0], []).append((number, line, fields))
            else:
                rejected.append((number, line, why))
        repeats = 0
        for subject, rows in list(kept.items()):
            if len(rows) == 1:
                continue
            if all(r[2] == rows[0][2] for r in rows):
                repeats += len(rows) - 1
                kept[subject] = rows[:1]
            else:
                why = f"subject {subject!r} is written {len(rows)} times with different values"
                rejected.extend((number, line, why) for number, line, _ in rows)
                del kept[subject]
        if not rejected and not repeats:
            return
        rows = sorted((r for rs in kept.values() for r in rs), key=lambda r: r[0])
        if rejected:
            rejected.sort()
            rpath = rejected_path(out)
            new = not os.path.exists(rpath) or os.path.getsize(rpath) == 0
            with open(rpath, "a", encoding="utf-8") as fh:
                fh.write(("" if not new else lines[0]) + "".join(r[1] for r in rejected))
                fh.flush()
                os.fsync(fh.fileno())
        _replace(out, (lines[0] + "".join(r[1] for r in rows)).encode("utf-8"))
        said = []
        if rejected:
            number, _, why = rejected[0]
            subjects = len({next(csv.reader([r[1]]), [""])[0] for r in rejected})
            said.append(
                f"set aside {len(rejected)} row(s) that are not finished fits (first: line {number}, {why}) "
                f"in {rejected_path(out)}; their {subjects} subject(s) are fitted again"
            )
        if repeats:
            said.append(f"dropped {repeats} repeated identical row(s)")
        print(f"dopasoft fit: {out}: {'; '.join(said)}", file=sys.stderr)


@contextlib.contextmanager
def exclusive(out: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<out>.lock`` for the block: one ``dopasoft fit`` per ``--out``.

    A second run refuses at once (``ValueError`` naming the PID of the one writing). The lock is the
    operating system's (``flock``; ``msvcrt.locking`` on Windows), so it goes with the process that
    holds it: a run killed by ``kill -9`` or a power cut leaves no stale lock. The lock file stays
    (removing it would let a third run lock a new file while the second holds the old one).
    """
    fh = open(lock_path(out), "a+", encoding="utf-8")  # noqa: SIM115 (held for the block)
    try:
        try:
            _lock(fh)
        except OSError:
            fh.seek(0)
            pid = fh.read().strip() or "unknown"
            raise ValueError(
                f"another dopasoft fit (PID {pid}) is writing {out}; wait for it to finish, or give another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()  # releases the lock


def _lock(fh) -> None:
    """Lock the open file ``fh`` exclusively without waiting (``OSError`` if another process holds it)."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for the block and raise it after: a row is written whole or not at all."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except (ValueError, OSError):  # no signals here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _append(out: str, rows: pd.DataFrame, header: bool) -> None:
    """Append finished rows and flush them to disk; Ctrl-C waits until they are written whole."""
    text = rows.to_csv(index=False, header=header)
    with _deferred_interrupt(), open(out, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _tidy(out: str, subjects) -> pd.DataFrame:
    """Rewrite ``out`` atomically in data order; every row already written is kept.

    Rows of subjects not in ``subjects`` (none when the manifest matched) stay, after the others, in
    file order.
    """
    res = _read_fits(out)
    order = {str(s): i for i, s in enumerate(subjects)}
    key = res["subject"].astype(str).map(order).fillna(len(order)).to_numpy()
    res = res.iloc[np.argsort(key, kind="stable")]
    tmp = out + ".tmp"
    res.to_csv(tmp, index=False)
    os.replace(tmp, out)
    return res


CLUSTER_INSTALL = 'pip install -e ".[cluster]"'

#: Environment of the worker processes of ``--dask-local``: one thread each, so N workers use N cores
#: (Dask already sets OMP/MKL/OpenBLAS threads to 1 in its workers; numba's own pool is set here).
LOCAL_WORKER_ENV = {"NUMBA_NUM_THREADS": "1"}


@contextlib.contextmanager
def dask_executor(scheduler: str | None, local_workers: int | None) -> Iterator[Executor | None]:
    """An executor on a Dask cluster for ``--scheduler ADDRESS`` / ``--dask-local N`` (``None``: neither).

    Dask is imported only here, so it is needed only with these options; a missing Dask, an
    unreachable scheduler or a bad N is a ``ValueError`` naming the option. ``--dask-local`` starts a
    ``LocalCluster`` of N worker processes (one thread each, listening on 127.0.0.1 only) and stops it
    on leaving, also after an interruption; ``--scheduler`` only connects (the cluster is the user's).
    """
    if scheduler is None and local_workers is None:
        yield None
        return
    check_cluster_options(scheduler, local_workers)
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if local_workers is not None:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=local_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                    env=LOCAL_WORKER_ENV,
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError) as err:
                raise ValueError(
                    f"--scheduler {scheduler}: cannot connect to a Dask scheduler there ({err})"
                ) from None
        where = "--dask-local" if scheduler is None else f"--scheduler {scheduler}"
        check_worker_versions(client.run(_versions), _versions(), where)
        yield client.get_executor()


def check_cluster_options(scheduler: str | None, local_workers: int | None) -> None:
    """``ValueError`` for ``--dask-local`` below 1, or either option without Dask installed."""
    if scheduler is None and local_workers is None:
        return
    if local_workers is not None and local_workers < 1:
        raise ValueError(f"--dask-local must be a positive number of worker processes, got {local_workers}")
    try:
        import distributed  # noqa: F401
    except ImportError:
        option = "--scheduler" if scheduler is not None else "--dask-local"
        raise ValueError(f"{option} needs Dask, which is not installed: {CLUSTER_INSTALL}") from None


def _versions() -> dict[str, str]:
    """Versions of the packages whose numbers a fit depends on (run on each worker too)."""
    import numba
    import scipy

    import dopasoft

    return {
        "dopasoft": dopasoft.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }


def check_worker_versions(workers: dict[str, dict[str, str]], local: dict[str, str], where: str) -> None:
    """``ValueError`` (prefixed by ``where``, the option) naming the first worker whose dopasoft, numpy, scipy or numba differs from here.

    A worker with another version could return other numbers for the same subject, and nothing in
    the output would show it.
    """
    for address, theirs in sorted(workers.items()):
        for name, version in local.items():
            if theirs.get(name) != version:
                raise ValueError(
                    f"{where}: worker {address} has {name} {theirs.get(name)}, "
                    f"this machine has {version}; install the same versions on every "
                    "worker (docs/fitting.md)"
                )


def check_stages(tr, model) -> None:
    """Refuse stage-2 parameters (``alpha2``, ``tau2``) for data without stage-2 states.

    In bandit and step-format data a state is stage 2 only if it never starts a trial
    (docs/fitting.md, "The step format"); without such states ``alpha2``/``tau2`` enter no choice.
    """
    staged = [o for o in ("separate_alpha", "separate_tau") if model.options.get(o)]
    if tr.task != "two-step" and staged and not (tr.state_stage == 1).any():
        raise ValueError(
            f"--model {model.spec}: these data have no second-stage state (every state starts a trial), "
            f"so alpha2/tau2 would enter no choice; drop {' and '.join('+' + o for o in staged)}"
        )


def run_fit(args: argparse.Namespace) -> int:
    """Fit every subject not yet in ``--out``; append each finished batch; sort at the end."""
    model, fixed, bounds = model_from_args(args)
    prior = priors_from_args(args.prior)
    if args.ml:
        if prior:
            raise ValueError("--ml (maximum likelihood, no prior) and --prior exclude each other")
        prior = {}
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be a positive integer, got {args.chunk_size}")
    if args.n_starts < 1:
        raise ValueError(f"--n-starts must be a positive integer, got {args.n_starts}")
    check_cluster_options(args.scheduler, args.dask_local)
    data = read_choices(args.data)
    out = os.fspath(output_file(args.out, inputs=[args.data]))
    tr = to_transitions(data, n_actions=args.n_actions, n_states=args.n_states)
    model.check_task(tr)
    check_stages(tr, model)
    n_free = len([p for p in model.param_names if p not in fixed])
    check_fit_memory(tr.n_subjects, args.chunk_size, args.n_starts, n_free, len(model.param_names))
    manifest = fit_manifest(
        data,
        args.data,
        model.spec,
        n_starts=args.n_starts,
        seed=args.seed,
        fixed=fixed,
        bounds=bounds,
        prior=prior,
        n_actions=int(tr.n_actions),
        n_states=int(tr.n_states),
    )
    with exclusive(out):  # one run per --out: a second refuses at once
        mpath = manifest_path(out)
        if args.overwrite:
            if os.path.exists(out):
                _check_fits_header(out)
            for path in (out, mpath, rejected_path(out)):
                if os.path.exists(path):
                    os.remove(path)
            done = None
        else:
            done = _resume(out, manifest, Ledger(model, tr, args.seed))
        if done is None:
            if os.path.exists(out):
                os.remove(out)  # empty, or only a torn header line
            write_manifest(mpath, manifest)
        finished = set() if done is None else set(done["subject"].astype(str))
        todo = [s for s in tr.subjects if str(s) not in finished]
        if finished:
            print(
                f"dopasoft fit: resuming: {tr.n_subjects - len(todo)} subject(s) already in {out}, "
                f"{len(todo)} to fit",
                file=sys.stderr,
            )
        header = done is None
        from tqdm import tqdm

        with (
            dask_executor(args.scheduler if todo else None, args.dask_local if todo else None) as executor,
            tqdm(total=len(todo), unit="subject", desc=f"fit {model.name}", disable=args.quiet) as bar,
        ):
            if todo and executor is None:  # workers of a cluster compile for themselves

                def say(message: str) -> None:
                    bar.set_description(f"fit {model.name}: {message}")
                    bar.refresh()

                if prepare_fit(model, tr, on_compile=say):
                    bar.set_description(f"fit {model.name}")
                    bar.reset(total=len(todo))  # the rate counts fitting time only
                check_interrupt()  # one lost inside the compiler's callbacks
            for rows, _starts in iter_fit(
                tr,
                model,
                n_starts=args.n_starts,
                seed=args.seed,
                fixed=fixed,
                bounds=bounds,
                chunk_size=args.chunk_size,
                skip=finished,
                prior=prior,
                executor=executor,
            ):
                rows = rows.copy()
                rows["model"] = model.spec
                rows["seed"] = args.seed
                _append(out, rows, header)
                header = False
                bar.update(len(rows))
                check_interrupt()
        res = _tidy(out, tr.subjects)
        summary(
            args,
            f"wrote {len(res)} subjects' fits to {out} (model {model.spec}, total NLL {res['nll'].sum():.3f}, "
            f"{int(res['converged'].sum())} converged)",
        )
    return 0


def register(subparsers) -> None:
    """Add the ``fit`` sub-command."""
    p = subparsers.add_parser(
        "fit",
        help="fit a choice model to each subject (maximum likelihood, resumable)",
        description="Fit a choice model per subject. Finished subjects are appended to --out as "
        "they finish, and <out>.manifest.json records the data and options; re-running the same "
        "command resumes after an interruption, other data or options are refused (--overwrite "
        "starts afresh).",
    )
    p.add_argument(
        "data", help="choice data: CSV/TSV/Parquet (two-step, bandit, step format or an hBayesDM task file)"
    )
    p.add_argument("--out", required=True, help="output CSV, one row per subject")
    add_data_size_options(p)
    add_quiet_option(p, "no progress bar and no summary line")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh: delete --out and its run manifest instead of resuming (see docs/reliability.md)",
    )
    p.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="NAME=MEAN,SD",
        help="MAP fit: Gaussian prior on the parameter's unbounded scale, replacing the default weak prior on "
        "temperatures (repeatable; see docs/fitting.md)",
    )
    p.add_argument(
        "--ml",
        action="store_true",
        help="plain maximum likelihood: no prior at all (not even the default weak prior on temperatures)",
    )
    cluster = p.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the chunks on the workers of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); results "
        f"and --out are identical to a local run (needs {CLUSTER_INSTALL}; see docs/fitting.md)",
    )
    cluster.add_argument(
        "--dask-local",
        type=int,
        metavar="N",
        help=f"run the chunks on a local Dask cluster of N worker processes, one thread each (needs {CLUSTER_INSTALL})",
    )
    add_model_options(p)
    p.set_defaults(func=run_fit)

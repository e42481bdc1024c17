"""``dopasoft fit``: per-subject maximum-likelihood fits, written as they finish (resumable)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Executor

import numpy as np
import pandas as pd

from dopasoft._memory import require_memory
from dopasoft.cli.manifest import (
    fit_manifest,
    manifest_differences,
    manifest_path,
    read_manifest,
    write_manifest,
)
from dopasoft.cli.options import add_model_option, add_quiet_option, add_seed_option, summary
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
    fixed, bounds = {}, {}
    for item in args.fix:
        name, sep, val = item.partition("=")
        if not sep:
            raise ValueError(f"--fix expects NAME=VALUE, got {item!r}")
        try:
            fixed[name.strip()] = float(val)
        except ValueError:
            raise ValueError(f"--fix {item!r}: {val!r} is not a number") from None
    for item in args.bound:
        name, sep, rng = item.partition("=")
        lo, sep2, hi = rng.partition(":")
        if not (sep and sep2):
            raise ValueError(f"--bound expects NAME=LO:HI, got {item!r}")
        try:
            bounds[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"--bound {item!r}: bounds must be numbers") from None
    return model, fixed, bounds


def priors_from_args(items: list[str]) -> dict[str, tuple[float, float]] | None:
    """``--prior NAME=MEAN,SD`` options (Gaussian on the unbounded scale) as the ``prior`` of ``fit``."""
    prior = {}
    for item in items:
        name, sep, rest = item.partition("=")
        mean, sep2, sd = rest.partition(",")
        if not (sep and sep2):
            raise ValueError(f"--prior expects NAME=MEAN,SD, got {item!r}")
        try:
            prior[name.strip()] = (float(mean), float(sd))
        except ValueError:
            raise ValueError(f"--prior {item!r}: mean and sd must be numbers") from None
    return prior or None


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


def _resume(out: str, manifest: dict) -> pd.DataFrame | None:
    """Finished rows of a previous run with the same manifest (``None``: start afresh).

    Refuses (``ValueError`` naming what differs) a fits file made with other data or options, a
    non-empty file without a manifest (an older dopasoft, or not a fits file) and a file whose header
    is not that of a fits file. A torn last line (a write cut short) is dropped.
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
        with open(out, "wb") as fh:
            fh.write(raw)
    if not raw:
        return None
    return _read_fits(out)


def _append(out: str, rows: pd.DataFrame, header: bool) -> None:
    text = rows.to_csv(index=False, header=header)
    with open(out, "a", encoding="utf-8") as fh:
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
    mpath = manifest_path(out)
    if args.overwrite:
        if os.path.exists(out):
            _check_fits_header(out)
        for path in (out, mpath):
            if os.path.exists(path):
                os.remove(path)
        done = None
    else:
        done = _resume(out, manifest)
    if done is None:
        if os.path.exists(out):
            os.remove(out)  # empty, or only a torn header line
        write_manifest(mpath, manifest)
    finished = set() if done is None else set(done["subject"].astype(str))
    todo = [s for s in tr.subjects if str(s) not in finished]
    if finished:
        print(
            f"dopasoft fit: resuming: {len(finished)} subject(s) already in {out}, {len(todo)} to fit",
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

"""``dopasoft fit``: per-subject maximum-likelihood fits, written as they finish (resumable)."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

from dopasoft.fitting.data import read_choices, to_transitions
from dopasoft.fitting.mle import iter_fit
from dopasoft.fitting.models import MODEL_NAMES, get_model


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Model choice and options shared by ``fit`` and ``recover``."""
    p.add_argument("--model", required=True, choices=MODEL_NAMES, help="choice model")
    p.add_argument("--kappa", action="store_true", help="soft Q models: add stage-1 stickiness")
    p.add_argument(
        "--separate-alpha",
        action="store_true",
        help="soft Q models: one learning rate per stage (alpha1, alpha2)",
    )
    p.add_argument(
        "--separate-tau", action="store_true", help="soft Q models: one temperature per stage (tau1, tau2)"
    )
    p.add_argument("--gamma", type=float, default=1.0, help="soft Q models: discount (default 1)")
    p.add_argument(
        "--trans-prob",
        type=float,
        default=0.7,
        help="hybrid models: common transition probability (default 0.7)",
    )
    p.add_argument("--n-starts", type=int, default=10, help="starts per subject (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts (default 0)")
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
        help="subjects fitted per batch, written when the batch finishes (default 20)",
    )


def model_from_args(args: argparse.Namespace):
    """Build the model, fixed values and bounds from parsed options."""
    if args.model.startswith("daw-hybrid"):
        if args.kappa or args.separate_alpha or args.separate_tau:
            raise ValueError("--kappa/--separate-alpha/--separate-tau apply to soft Q models only")
        model = get_model(args.model, trans_prob=args.trans_prob)
    else:
        model = get_model(
            args.model,
            kappa=args.kappa,
            separate_alpha=args.separate_alpha,
            separate_tau=args.separate_tau,
            gamma=args.gamma,
        )
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


def _read_done(out: str, model_name: str, seed: int, n_starts: int) -> pd.DataFrame | None:
    """Finished rows of a previous run (a partial last line from an interrupted write is dropped)."""
    if not os.path.exists(out) or os.path.getsize(out) == 0:
        return None
    with open(out, "rb") as fh:
        raw = fh.read()
    if not raw.endswith(b"\n"):
        raw = raw[: raw.rfind(b"\n") + 1]
        with open(out, "wb") as fh:
            fh.write(raw)
        if not raw:
            return None
    done = pd.read_csv(out, dtype={"subject": str})
    for col, want in (("model", model_name), ("seed", seed), ("n_starts", n_starts)):
        if col in done.columns and len(done) and (done[col] != want).any():
            raise ValueError(
                f"{out} holds fits with {col}={done[col].iloc[0]!r}, not {want!r}; "
                "use another --out or the same options to resume"
            )
    return done


def _append(out: str, rows: pd.DataFrame, header: bool) -> None:
    text = rows.to_csv(index=False, header=header)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def run_fit(args: argparse.Namespace) -> int:
    """Fit every subject not yet in ``--out``; append each finished batch; sort at the end."""
    model, fixed, bounds = model_from_args(args)
    prior = priors_from_args(args.prior)
    data = read_choices(args.data)
    tr = to_transitions(data)
    model.check_task(tr)
    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    done = _read_done(out, model.spec, args.seed, args.n_starts)
    finished = set() if done is None else set(done["subject"].astype(str))
    todo = [s for s in tr.subjects if str(s) not in finished]
    if finished:
        print(f"resuming: {len(finished)} subject(s) already in {out}, {len(todo)} to fit", file=sys.stderr)
    header = done is None
    from tqdm import tqdm

    with tqdm(total=len(todo), unit="subject", desc=f"fit {model.name}",
              disable=args.quiet) as bar:  # fmt: skip
        for rows, _starts in iter_fit(tr, model, n_starts=args.n_starts, seed=args.seed,
                                      fixed=fixed, bounds=bounds, chunk_size=args.chunk_size,
                                      skip=finished, prior=prior):  # fmt: skip
            rows = rows.copy()
            rows["model"] = model.spec
            rows["seed"] = args.seed
            _append(out, rows, header)
            header = False
            bar.update(len(rows))
    # final tidy file: data order, written atomically
    res = pd.read_csv(out, dtype={"subject": str})
    order = {str(s): i for i, s in enumerate(tr.subjects)}
    res = res[res["subject"].isin(order)]
    res = res.iloc[np.argsort(res["subject"].map(order).to_numpy(), kind="stable")]
    tmp = out + ".tmp"
    res.to_csv(tmp, index=False)
    os.replace(tmp, out)
    if not args.quiet:
        print(
            f"{len(res)} subjects, total NLL {res['nll'].sum():.3f}, "
            f"{int(res['converged'].sum())} converged -> {out}"
        )
    return 0


def register(subparsers) -> None:
    """Add the ``fit`` sub-command."""
    p = subparsers.add_parser(
        "fit",
        help="fit a choice model to each subject (maximum likelihood, resumable)",
        description="Fit a choice model per subject. Finished subjects are appended to --out as "
        "they finish; re-running the same command resumes after an interruption.",
    )
    p.add_argument("data", help="choice data: CSV/TSV/Parquet (two-step, hBayesDM or bandit)")
    p.add_argument("--out", required=True, help="output CSV, one row per subject")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="NAME=MEAN,SD",
        help="MAP fit: Gaussian prior on the parameter's unbounded scale (repeatable; see docs/fitting.md)",
    )
    add_model_options(p)
    p.set_defaults(func=run_fit)

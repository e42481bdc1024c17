"""First-run and warm timings of the commands a new user runs, with a cold compiled cache.

Run: ``python benchmarks/first_run.py [--skip-demo] [--repeat 1]``. Prints numbers only.

The package is copied to a fresh temporary folder (without its ``__pycache__``), and the commands run
from that copy with ``NUMBA_CACHE_DIR`` unset, so numba finds no cache and compiles everything, as on
a fresh install; the same command is then run a second time (warm: the copy's cache is filled).
Each figure is the whole process as the operating system accounts it: wall seconds and CPU seconds
(user + system, the process and its children). Beside it, the plain reference of the same run: a
process that only imports the package and exits (what no compiled code can go below).

Commands:

- ``dopasoft fit`` of a 3-subject x 200-trial two-step file (``soft-q-lambda``, default options);
- ``dopasoft demo`` (default sizes, PNG figures only);
- in Python: ``simulate_two_step(5, 100)`` and a first ``fit(..., n_starts=2)`` of its data.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh_copy(where: Path) -> Path:
    """Copy ``dopasoft/`` (no caches) into ``where``; return the folder to put on ``PYTHONPATH``."""
    shutil.copytree(ROOT / "dopasoft", where / "dopasoft", ignore=shutil.ignore_patterns("__pycache__"))
    return where


def run(args: list[str], pythonpath: Path, cwd: Path) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, CPU seconds of the process and its children, stderr tail)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(pythonpath)
    env["MPLBACKEND"] = "Agg"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, cpu, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""


PY_FIRST = """
import dopasoft as ds
data = ds.experiments.simulate_two_step(5, 100, seed=0)
ds.fitting.fit(data, "soft-q-lambda", n_starts=2, seed=0)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-demo", action="store_true", help="time the fit and Python runs only")
    ap.add_argument("--repeat", type=int, default=1, help="cold runs of each command (fresh copy each)")
    args = ap.parse_args()
    python = sys.executable
    dopasoft = [python, "-m", "dopasoft"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; wall / CPU seconds of the whole process")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        # the data file, written by the checked-out package (its cache is not the copies')
        sim = [*dopasoft, "simulate", "two-step", "--n-subjects", "3", "--n-trials", "200"]
        run([*sim, "--seed", "1", "--out", "three.csv", "--quiet"], ROOT, work)
        jobs = [
            ("import dopasoft (reference)", [python, "-c", "import dopasoft.fitting, dopasoft.cli"]),
            (
                "dopasoft fit, 3 subjects x 200 trials",
                [*dopasoft, "fit", "three.csv", "--model", "soft-q-lambda", "--out", "fits.csv", "--quiet"],
            ),
            ("python: simulate_two_step(5, 100) + fit(n_starts=2)", [python, "-c", PY_FIRST]),
        ]
        if not args.skip_demo:
            jobs.append(
                ("dopasoft demo (as the README runs it)", [*dopasoft, "demo", "--out", "demo", "--quiet"])
            )
        for j, (label, cmd) in enumerate(jobs):
            for r in range(args.repeat):
                copy = fresh_copy(tmp / f"copy-{j}-{r}")
                cold = run(cmd + (["--overwrite"] if "fit" in cmd else []), copy, work)
                warm = run(cmd + (["--overwrite"] if "fit" in cmd else []), copy, work)
                print(
                    f"{label:55s} first run {cold[0]:6.1f} s wall {cold[1]:6.1f} s CPU | "
                    f"warm {warm[0]:5.1f} s wall {warm[1]:5.1f} s CPU"
                )


if __name__ == "__main__":
    main()

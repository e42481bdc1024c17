"""Large cohorts on one machine: peak memory and time of ``fit`` as the number of subjects grows.

Soft Q(lambda) (``soft-q-lambda``) on two-step data from ``dopasoft.experiments.simulate_two_step``,
200 trials and 5 starts per subject. Each cohort size is measured in its own Python process, so one
measurement does not inherit another's memory. In that process the data are simulated and converted
to the fitting arrays first, and memory the simulation freed is handed back to the system (glibc
``malloc_trim``); then the peak resident set size (Linux ``VmHWM``) is reset and the fit
runs, so the peak is the fit's own (data and interpreter included, the simulation's peak excluded).

Printed per size: the data's own size (the canonical DataFrame plus the padded fitting arrays), the
RSS before the fit (interpreter, libraries, compiled code and the data), the peak RSS during the fit,
the peak minus the data, the growth over the RSS before the fit, and the wall time. The plain
reference beside each line is the same cohort fitted as one batch (``--chunk all``: the optimiser
state of every subject x start at once, as ``fit`` did before chunks of ``DEFAULT_CHUNK`` subjects).

Run: ``python benchmarks/large_cohort.py [--sizes 1000 3000 10000] [--chunk default|all|N]``;
``python benchmarks/large_cohort.py --worker-latency`` times the first chunk on a fresh local Dask
cluster of two workers, with numba's on-disk cache warm and cold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MB = 1024.0**2


def _status_kb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _release_freed_memory() -> None:
    """Hand memory freed by Python back to the system (glibc ``malloc_trim``), so that the RSS before
    the fit is what is alive (the data), not what the simulation left in the allocator's free lists."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the RSS before the fit then includes free memory
        pass


def measure_one(n_subjects: int, chunk: str, n_trials: int = 200, n_starts: int = 5) -> dict:
    """Simulate, convert, then fit one cohort in this process; memory figures in MB."""
    import numpy as np

    from dopasoft.experiments import simulate_two_step
    from dopasoft.fitting import fit
    from dopasoft.fitting.data import to_transitions

    rss_start = _status_kb("VmRSS") / 1024
    df = simulate_two_step(n_subjects, n_trials, seed=1)
    tr = to_transitions(df)
    arrays = [v for v in vars(tr).values() if isinstance(v, np.ndarray)]
    data_mb = (df.memory_usage(deep=True).sum() + sum(a.nbytes for a in arrays)) / MB
    _release_freed_memory()
    rss_before = _status_kb("VmRSS") / 1024
    if not _reset_peak():
        raise RuntimeError("cannot reset the peak RSS (/proc/self/clear_refs): Linux only")
    chunk_size = None if chunk == "default" else (n_subjects if chunk == "all" else int(chunk))
    t0 = time.perf_counter()
    res = fit(tr, "soft-q-lambda", n_starts=n_starts, seed=0, chunk_size=chunk_size)
    seconds = time.perf_counter() - t0
    peak = _status_kb("VmHWM") / 1024
    tables_mb = (res.params.memory_usage(deep=True).sum() + res.starts.memory_usage(deep=True).sum()) / MB
    return {
        "n": n_subjects,
        "chunk": chunk,
        "rss_start": rss_start,
        "data": data_mb,
        "rss_before": rss_before,
        "peak": peak,
        "tables": tables_mb,
        "seconds": seconds,
        "converged": float(res.params["converged"].mean()),
    }


def run_sizes(sizes: list[int], chunks: list[str]) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(here) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"soft-q-lambda, two-step, 200 trials, 5 starts, {os.cpu_count()} CPUs; memory in MB")
    print(
        f"{'subjects':>8} {'chunk':>7} {'data':>7} {'RSS pre':>8} {'peak':>8} {'peak-data':>10} "
        f"{'peak-pre':>9} {'tables':>7} {'time s':>8} {'ms/subj':>8} {'conv':>5}"
    )
    for n in sizes:
        for chunk in chunks:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(n), "--chunk", chunk],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{r['n']:>8} {r['chunk']:>7} {r['data']:7.1f} {r['rss_before']:8.1f} {r['peak']:8.1f} "
                f"{r['peak'] - r['data']:10.1f} {r['peak'] - r['rss_before']:9.1f} {r['tables']:7.1f} "
                f"{r['seconds']:8.1f} {1000 * r['seconds'] / r['n']:8.2f} {r['converged']:5.2f}",
                flush=True,
            )


def _rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def worker_latency(n_subjects: int = 80, chunk_size: int = 20) -> None:
    """Seconds from a fresh two-worker local cluster to its first finished chunk, warm and cold cache.

    Four chunks on two workers: the first two carry the workers' import and numba load (or compile)
    time, the last two run on warm workers. Also prints each worker's RSS after the fit.
    """
    from distributed import Client, LocalCluster

    from dopasoft.experiments import simulate_two_step
    from dopasoft.fitting import iter_fit

    data = simulate_two_step(n_subjects, 200, seed=2)
    with tempfile.TemporaryDirectory() as empty:
        for label, env in (
            ("warm cache", {}),
            ("cold cache (empty NUMBA_CACHE_DIR)", {"NUMBA_CACHE_DIR": empty}),
        ):
            t0 = time.perf_counter()
            with (
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address=None,
                    env={"NUMBA_NUM_THREADS": "1", **env},
                ) as cluster,
                Client(cluster) as client,
            ):
                up = time.perf_counter() - t0
                t1 = time.perf_counter()
                times = []
                for _ in iter_fit(
                    data, "soft-q-lambda", n_starts=5, chunk_size=chunk_size, executor=client.get_executor()
                ):
                    times.append(time.perf_counter() - t1)
                rss = sorted(client.run(_rss_mb).values())
            print(
                f"{label:>36}: cluster up {up:5.1f} s; chunks of {chunk_size} subjects x 200 trials x 5 "
                f"starts finished after {', '.join(f'{t:.1f}' for t in times)} s; "
                f"worker RSS {', '.join(f'{r:.0f}' for r in rss)} MB",
                flush=True,
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    p.add_argument("--chunk", nargs="+", default=["default", "all"], help="default, all, or a number")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-latency", action="store_true")
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(measure_one(args.one, args.chunk[0])))
    elif args.worker_latency:
        worker_latency()
    else:
        run_sizes(args.sizes, args.chunk)


if __name__ == "__main__":
    main()

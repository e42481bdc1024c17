"""Fits on a Dask cluster (``dopasoft fit --scheduler`` / ``--dask-local``) and chunk streaming.

The cluster tests use a local cluster of two worker processes on loopback (CI runs them: Dask is in
the ``test`` extra). A cluster run must write byte-identical ``--out`` and manifest files to a local
run, and resume a run begun elsewhere.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import dopasoft.cli.fit as cli_fit
import dopasoft.fitting.mle as mle
from dopasoft.cli import main
from dopasoft.experiments import simulate_two_step

N_SUBJECTS = 8


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("d") / "two_step.csv"
    simulate_two_step(N_SUBJECTS, 60, seed=3).to_csv(path, index=False)
    return path


def _argv(data_file, out, *extra):
    return [
        "fit",
        str(data_file),
        "--model",
        "soft-q-lambda",
        "--n-starts",
        "2",
        "--chunk-size",
        "3",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def local_run(data_file, tmp_path_factory):
    """Bytes of ``--out`` and of its manifest from a run without Dask."""
    out = tmp_path_factory.mktemp("local") / "fits.csv"
    assert main(_argv(data_file, out)) == 0
    return out.read_bytes(), (out.parent / (out.name + ".manifest.json")).read_bytes()


@pytest.fixture(scope="module")
def scheduler():
    """Address of a running local cluster of two single-threaded worker processes."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        env={"NUMBA_NUM_THREADS": "1"},
    ) as cluster:
        yield cluster.scheduler_address


def _manifest(out):
    return (out.parent / (out.name + ".manifest.json")).read_bytes()


def test_dask_local_output_is_byte_identical_to_a_local_run(data_file, local_run, tmp_path):
    out = tmp_path / "fits.csv"
    assert main(_argv(data_file, out, "--dask-local", "2")) == 0
    assert out.read_bytes() == local_run[0]
    assert _manifest(out) == local_run[1]  # the manifest does not record where the fit ran
    assert len(pd.read_csv(out)) == N_SUBJECTS


def test_interrupted_cluster_run_resumes_on_the_cluster(
    data_file, local_run, scheduler, tmp_path, monkeypatch
):
    out = tmp_path / "fits.csv"
    real = cli_fit.iter_fit
    seen: list[str] = []
    executors = []

    def interrupted_after(n_chunks):
        def wrapper(*args, **kw):
            executors.append(kw.get("executor"))
            for k, chunk in enumerate(real(*args, **kw)):
                seen.extend(chunk[0]["subject"].astype(str))
                yield chunk
                if k + 1 == n_chunks:
                    raise KeyboardInterrupt

        return wrapper

    monkeypatch.setattr(cli_fit, "iter_fit", interrupted_after(1))
    assert main(_argv(data_file, out, "--scheduler", scheduler)) == 130
    first = pd.read_csv(out, dtype={"subject": str})
    assert len(first) == 3  # one chunk finished and written before the interruption
    seen.clear()
    monkeypatch.setattr(cli_fit, "iter_fit", interrupted_after(-1))
    assert main(_argv(data_file, out, "--scheduler", scheduler)) == 0
    assert all(type(e).__name__ == "ClientExecutor" for e in executors)  # both runs went through Dask
    assert set(seen).isdisjoint(first["subject"]) and len(seen) == N_SUBJECTS - 3  # nothing refitted
    assert out.read_bytes() == local_run[0]
    assert _manifest(out) == local_run[1]


def test_local_run_resumes_a_cluster_run(data_file, local_run, scheduler, tmp_path):
    out = tmp_path / "fits.csv"
    assert main(_argv(data_file, out, "--scheduler", scheduler)) == 0
    text = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(text[:4]))  # header and three finished subjects
    assert main(_argv(data_file, out)) == 0
    assert out.read_bytes() == local_run[0]


def test_missing_dask_is_one_line_naming_the_extra(data_file, local_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    monkeypatch.setitem(sys.modules, "dask", None)
    local = tmp_path / "local.csv"
    assert main(_argv(data_file, local)) == 0  # Dask is not needed without the cluster options
    assert local.read_bytes() == local_run[0]
    out = tmp_path / "fits.csv"
    for option in (["--dask-local", "2"], ["--scheduler", "tcp://127.0.0.1:1"]):
        assert main(_argv(data_file, out, *option)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert option[0] in err and 'pip install -e ".[cluster]"' in err
    assert not out.exists() and not (tmp_path / "fits.csv.manifest.json").exists()  # refused before writing


def test_bad_cluster_options_are_refused(data_file, tmp_path, capsys):
    out = tmp_path / "fits.csv"
    assert main(_argv(data_file, out, "--dask-local", "0")) == 2
    assert "--dask-local must be a positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: the two options exclude each other
        main(_argv(data_file, out, "--dask-local", "1", "--scheduler", "tcp://127.0.0.1:1"))
    assert not out.exists()


def test_unreachable_scheduler_is_named(data_file, tmp_path, capsys, monkeypatch):
    import distributed

    def refuse(address, **kw):
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", refuse)
    assert main(_argv(data_file, tmp_path / "fits.csv", "--scheduler", "tcp://10.9.9.9:8786")) == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://10.9.9.9:8786: cannot connect" in err and err.count("\n") == 1


def test_a_worker_with_other_versions_is_refused():
    here = {"dopasoft": "0.1.0", "numpy": "2.1.0", "scipy": "1.14.0", "numba": "0.60.0"}
    cli_fit.check_worker_versions({"tcp://a:1": dict(here), "tcp://b:1": dict(here)}, here, "--dask-local")
    other = dict(here, numba="0.59.1")
    with pytest.raises(
        ValueError, match=r"--scheduler X: worker tcp://b:1 has numba 0.59.1, this machine has 0.60.0"
    ):
        cli_fit.check_worker_versions({"tcp://a:1": dict(here), "tcp://b:1": other}, here, "--scheduler X")
    with pytest.raises(ValueError, match="worker tcp://a:1 has dopasoft None"):
        cli_fit.check_worker_versions({"tcp://a:1": {}}, here, "--dask-local")


# ---------------------------------------------------------------------------------------------------
# chunk streaming (the Python API)


@pytest.fixture(scope="module")
def small():
    return simulate_two_step(7, 40, seed=5)


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that records the largest number of chunks submitted but not yet handed back."""

    def __init__(self, workers):
        super().__init__(max_workers=workers)
        self.lock = threading.Lock()
        self.outstanding = 0
        self.peak = 0
        self.submitted = 0

    def submit(self, fn, *args, **kwargs):
        with self.lock:
            self.outstanding += 1
            self.submitted += 1
            self.peak = max(self.peak, self.outstanding)
        return super().submit(fn, *args, **kwargs)

    def handed_back(self):
        with self.lock:
            self.outstanding -= 1


def test_executor_keeps_a_bounded_number_of_chunks_in_flight(small):
    ref = mle.fit(small, "soft-q-lambda", n_starts=2, chunk_size=7)
    with CountingExecutor(1) as ex:
        parts = []
        for part in mle.iter_fit(small, "soft-q-lambda", n_starts=2, chunk_size=1, executor=ex):
            parts.append(part)
            ex.handed_back()
        assert ex.submitted == 7
        assert ex.peak <= 2  # two per worker, not all seven chunks (and their data) at once
    got = pd.concat([p for p, _ in parts]).sort_values("subject", key=lambda s: s.astype(int))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.params, check_exact=True)


def test_fit_without_chunk_size_streams_bounded_chunks(small, monkeypatch):
    whole = mle.fit(small, "soft-q-lambda", n_starts=3, chunk_size=7)
    monkeypatch.setattr(mle, "DEFAULT_CHUNK", 3)
    sizes = [len(p) for p, _ in mle.iter_fit(small, "soft-q-lambda", n_starts=3)]
    assert sizes == [3, 3, 1]
    res = mle.fit(small, "soft-q-lambda", n_starts=3)
    # each subject's optimisation does not depend on which subjects share its batch: exactly equal
    pd.testing.assert_frame_equal(res.params, whole.params, check_exact=True)
    pd.testing.assert_frame_equal(res.starts, whole.starts, check_exact=True)
    assert np.isfinite(res.params["nll"]).all()


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_chunk_size_is_refused(small, bad):
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        mle.fit(small, "soft-q-lambda", n_starts=1, chunk_size=bad)


def test_executor_chunks_are_at_most_default_chunk(small, monkeypatch):
    monkeypatch.setattr(mle, "DEFAULT_CHUNK", 1)  # four chunks per worker would be 2 subjects each here
    with ThreadPoolExecutor(1) as ex:
        sizes = [len(p) for p, _ in mle.iter_fit(small, "soft-q-lambda", n_starts=1, executor=ex)]
    assert sizes == [1] * 7

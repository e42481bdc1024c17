"""Batches of independent (subject, parameter vector) pairs spread over a pool of threads.

Every compiled likelihood of :mod:`dopasoft.fitting` is a serial, ``nogil`` function of a block of
pairs ``lo <= k < hi`` that writes its results into arrays given by the caller
(e.g. :func:`dopasoft.fitting.softq._nll_block`). :func:`run_blocks` cuts a batch into blocks and runs
them on a thread pool; small batches run in the calling thread.

Why not numba's parallel loops: compiling a ``parallel=True`` function costs several seconds per
function on a first run (docs/performance.md, "First run"), and numba's default threading layer is not
safe when parallel functions are entered from several threads at once (a sampler running chains in
threads). A ``nogil`` serial block may be called from any thread, and pairs are independent, so the
results are the same bits for any number of threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_threads", "set_threads", "run_blocks", "MIN_PAIRS_PER_THREAD"]

#: a batch gets one more thread per this many pairs (smaller batches run in the calling thread)
MIN_PAIRS_PER_THREAD = 8
#: blocks per thread: several, so that a thread that finishes early takes another block
BLOCKS_PER_THREAD = 4

_lock = threading.Lock()
_state: dict = {"threads": None, "pool": None, "size": 0}


def _default_threads() -> int:
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_threads() -> int:
    """Number of threads the likelihoods use: :func:`set_threads`'s value, else ``NUMBA_NUM_THREADS``,
    else the processors this process may run on.

    Examples
    --------
    >>> from dopasoft.fitting import get_threads, set_threads
    >>> set_threads(1)
    >>> get_threads()
    1
    >>> set_threads(None)  # back to the default
    """
    return _state["threads"] or _default_threads()


def set_threads(n: int | None) -> None:
    """Use ``n`` threads for the likelihoods from now on (``None``: the default of :func:`get_threads`).

    Parameters
    ----------
    n : int or None
        A positive number of threads.

    Examples
    --------
    >>> from dopasoft.fitting import get_threads, set_threads
    >>> set_threads(1); get_threads()
    1
    >>> set_threads(None)
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"threads must be a positive integer or None, got {n!r}")
    _state["threads"] = n


def _pool(size: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool"] is None or _state["size"] != size:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dopasoft")
            _state["size"] = size
        return _state["pool"]


def run_blocks(block: Callable, n_items: int, *args) -> None:
    """Call ``block(lo, hi, *args)`` on consecutive blocks covering ``0 <= k < n_items``.

    ``block`` is a compiled ``nogil`` function that writes item ``k``'s results into arrays among
    ``args`` and shares nothing else between items, so blocks may run in any order on any thread.
    With one thread (or fewer than ``2 * MIN_PAIRS_PER_THREAD`` items) the whole range runs in the
    calling thread. An exception in a block (or a ``KeyboardInterrupt`` while waiting) cancels the
    blocks not yet started and is raised here.
    """
    threads = min(get_threads(), n_items // MIN_PAIRS_PER_THREAD)
    if threads <= 1:
        block(0, n_items, *args)
        return
    n_blocks = min(n_items, BLOCKS_PER_THREAD * threads)
    edges = [i * n_items // n_blocks for i in range(n_blocks + 1)]
    pool = _pool(threads)
    futures = [pool.submit(block, lo, hi, *args) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    try:
        for f in futures:
            f.result()
    except BaseException:
        for f in futures:
            f.cancel()
        raise

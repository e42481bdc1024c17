"""
Fitting a large cohort on a Dask cluster
========================================

``ds.fitting.fit`` cuts the cohort into chunks of subjects and submits them to any
:class:`concurrent.futures.Executor`; a Dask client's executor spreads them over a cluster. The result does
not depend on where the chunks ran: every subject gets the same random starts and the same optimiser
wherever it is fitted. Here a :class:`distributed.LocalCluster` with two single-threaded worker processes
(``pip install -e ".[cluster]"``); on a real cluster, connect a ``Client`` to its scheduler instead, or
use ``dopasoft fit data.csv --model soft-q-lambda --out fits.csv --scheduler tcp://HOST:8786``.

Worker processes are started afresh and import this script, so the work goes under
``if __name__ == "__main__":``.
"""

# %%
# Fit on the cluster and here, and compare
# ----------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

import dopasoft as ds

if __name__ == "__main__":
    data = ds.experiments.simulate_two_step(40, 150, model="soft-q-lambda", seed=1)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, env={"NUMBA_NUM_THREADS": "1"}) as cluster,
        Client(cluster) as client,
    ):
        on_cluster = ds.fitting.fit(
            data, "soft-q-lambda", n_starts=2, chunk_size=10, seed=0, executor=client.get_executor()
        ).params
    here = ds.fitting.fit(data, "soft-q-lambda", n_starts=2, chunk_size=10, seed=0).params
    print(on_cluster[["subject", "alpha", "tau", "lam", "nll"]].head())

    # The same fits, wherever they ran: identical numbers.
    gap = np.abs(on_cluster["nll"].to_numpy() - here["nll"].to_numpy()).max()
    print(f"max |NLL cluster - NLL local|: {gap:.2e}")

    fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
    for ax, name in zip(axes, ["alpha", "tau", "lam"], strict=True):
        ax.plot(here[name], on_cluster[name], "o", alpha=0.6, color="#0072B2")
        ax.set(xlabel=f"{name}, local", ylabel=f"{name}, cluster", title=name)
    fig.tight_layout()
    print(f"subjects fitted on the cluster: {len(on_cluster)}")

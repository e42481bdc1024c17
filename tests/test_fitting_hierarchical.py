"""Hierarchical EM (the BMS tests are in test_fitting_model_selection.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import dopasoft.fitting as F


def test_hierarchical_em_recovers_group_and_shrinks():
    model = F.get_model("soft-q")
    rng = np.random.default_rng(0)
    true = pd.DataFrame({"alpha": rng.uniform(0.3, 0.6, 30), "tau": rng.uniform(0.15, 0.3, 30)})
    data = F.simulate_choices(model, true, n_trials=120, seed=1)
    ml = F.fit(data, model, n_starts=3, prior={})
    hier = F.fit_hierarchical(data, model, n_starts=3, max_iter=15)
    assert hier.n_iter <= 15
    # MAP never beats the ML optimum on the data term, and estimates are shrunk towards the group
    assert np.all(hier.params["nll"].to_numpy() >= ml.params["nll"].to_numpy() - 1e-6)
    assert hier.params["alpha"].std() <= ml.params["alpha"].std() + 1e-9
    assert 0.3 < hier.group.loc["alpha", "median"] < 0.65
    assert 0.1 < hier.group.loc["tau", "median"] < 0.4
    assert np.isfinite(hier.ibic) and "iBIC" in hier.summary()

"""Parameter-recovery summaries (Wilson & Collins 2019, rule 6: can the parameters be recovered?)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["recovery_table"]


def recovery_table(true: pd.DataFrame, est: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Pearson and Spearman correlation, bias and RMSE of estimates against true values.

    ``true`` and ``est`` hold one row per subject in the same order, with a column per name.
    """
    rows = []
    for p in names:
        t, e = true[p].to_numpy(float), est[p].to_numpy(float)
        rows.append({
            "param": p,
            "pearson_r": float(np.corrcoef(t, e)[0, 1]),
            "spearman_r": float(pd.Series(t).corr(pd.Series(e), method="spearman")),
            "bias": float(np.mean(e - t)),
            "rmse": float(np.sqrt(np.mean((e - t) ** 2))),
        })  # fmt: skip
    return pd.DataFrame(rows)

"""
Reading hBayesDM task files: bandit, reversal learning, go/no-go
================================================================

Labs that used hBayesDM (Ahn et al. 2017) have their data in its tab-separated task files. dopasoft reads
them as they are, recognising the task from the columns, and fits Soft Q models to them. Here we write three
small files in hBayesDM's layout — a two-armed bandit, probabilistic reversal learning and go/no-go — from
known parameters, read them back and fit them.
"""

# %%
# Two-armed bandit (``bandit2arm``) and reversal learning (``prl``) files
# -----------------------------------------------------------------------
# Both have ``subjID``, ``trial``, ``choice`` (1 or 2) and ``outcome``. We simulate learners with
# different learning rates for good and bad news (``soft-q+valence``) and write them as hBayesDM would.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import dopasoft as ds

folder = Path(tempfile.mkdtemp())  # your files are wherever your lab keeps them
truth = {"alpha_pos": 0.5, "alpha_neg": 0.15, "tau": 0.15}
sim = ds.fitting.simulate_choices("soft-q+valence", truth, task="bandit", n_subjects=10, n_trials=200, seed=4)
bandit = pd.DataFrame(
    {
        "subjID": sim["subject"].str.replace("sub", "").astype(int) + 101,
        "trial": sim["trial"],
        "choice": sim["choice"] + 1,
        "outcome": sim["reward"],
    }
)
bandit.to_csv(folder / "bandit2arm_exampleData.txt", sep="\t", index=False)
print((folder / "bandit2arm_exampleData.txt").read_text().splitlines()[:3])

data = ds.fitting.read_hbayesdm(folder / "bandit2arm_exampleData.txt")
fits = ds.fitting.fit(data, "soft-q+valence", n_starts=3, seed=0).params
print(fits[["subject", "alpha_pos", "alpha_neg", "tau"]].median(numeric_only=True).round(3))
print(f"median alpha_pos: {fits['alpha_pos'].median():.3f}, alpha_neg: {fits['alpha_neg'].median():.3f}")

# %%
# A ``prl`` file has the same layout with outcomes of +1 and −1; it is read the same way.
bandit.assign(outcome=np.where(bandit["outcome"] > 0, 1, -1)).to_csv(
    folder / "prl_exampleData.txt", sep="\t", index=False
)
prl = ds.fitting.read_hbayesdm(folder / "prl_exampleData.txt")
print(prl.head(3))

# %%
# A go/no-go file (``gng``)
# -------------------------
# Four cues (go to win, go to avoid losing, no-go to win, no-go to avoid losing), ``keyPressed`` 1 for go.
# We simulate a learner with a bias to press: in the soft theory a go bias is a default policy,
# π0(go) = σ(go_bias), so that p(go | cue) = σ(go_bias + (Q(cue, go) − Q(cue, no-go)) / τ).
rng = np.random.default_rng(7)
alpha, tau, go_bias = 0.3, 0.3, 1.0
best_is_go = np.array([True, True, False, False])  # cue 1-4: which action gets the better outcome
rows = []
for subject in range(10):
    q = np.zeros((4, 2))  # (cue, [no-go, go])
    for trial in range(1, 161):
        cue = rng.integers(4)
        p_go = 1 / (1 + np.exp(-(go_bias + (q[cue, 1] - q[cue, 0]) / tau)))
        go = int(rng.random() < p_go)
        correct = go == best_is_go[cue]
        good = rng.random() < (0.8 if correct else 0.2)
        outcome = (1.0 if good else 0.0) if cue in (0, 2) else (0.0 if good else -1.0)
        q[cue, go] += alpha * (outcome - q[cue, go])
        rows.append((subject + 1, trial, cue + 1, go, outcome))
gng = pd.DataFrame(rows, columns=["subjID", "trialNum", "cue", "keyPressed", "outcome"])
gng.to_csv(folder / "gng_exampleData.txt", sep="\t", index=False)

data = ds.fitting.read_hbayesdm(folder / "gng_exampleData.txt")
fits_gng = ds.fitting.fit(data, "soft-q+go_bias", n_starts=3, seed=0).params
print(f"median go_bias: {fits_gng['go_bias'].median():.3f} (true {go_bias})")

# %%
# The fitted go bias and learning rates against the values the files were written from.
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
for ax, (table, name, value) in zip(
    axes,
    [
        (fits, "alpha_pos", truth["alpha_pos"]),
        (fits, "alpha_neg", truth["alpha_neg"]),
        (fits_gng, "go_bias", go_bias),
    ],
    strict=True,
):
    ax.plot(np.zeros(len(table)), table[name], "o", alpha=0.6, color="#0072B2")
    ax.axhline(value, color="#D55E00", ls="--", label="true")
    ax.set(title=name, xticks=[])
axes[0].legend(frameon=False)
fig.tight_layout()

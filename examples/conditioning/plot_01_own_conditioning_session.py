"""
Simulate your own conditioning session
======================================

A lab's session is a list of trials: which cue, when the reward came, whether it came. Give dopasoft that
list (a CSV file or a data frame, one row per trial) and it runs a TD(λ) learner on a serial-compound
representation of the cues through exactly those trials, returning the model's prediction error at the cue
and at the reward of every trial — ready to join the recordings on ``trial``.
"""

# %%
# The session: one row per trial
# ------------------------------
# Here 60 trials of cue A followed by a reward 1.5 s after cue onset, with the reward omitted on a random
# fifth of them, then 20 trials of cue B never rewarded. Columns other than ``trial_type`` are optional;
# extra columns (a session ID, the photometry file) are kept.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dopasoft.experiments import simulate_conditioning

rng = np.random.default_rng(0)
n_a, n_b = 60, 20
session = pd.DataFrame(
    {
        "trial": np.arange(1, n_a + n_b + 1),
        "trial_type": ["A+"] * n_a + ["B-"] * n_b,
        "reward_time": 1.5,
        "rewarded": np.r_[(rng.random(n_a) > 0.2).astype(int), np.zeros(n_b, int)],
    }
)
session.head()

# %%
# Run the model through the session
# ---------------------------------
result = simulate_conditioning(session=session, seed=0)
trials = result.trials
trials[["trial", "trial_type", "rewarded", "cue_rpe", "reward_rpe"]].tail()

# %%
# The prediction error moves from the reward to the cue on rewarded A trials, and an omitted reward gives a
# negative error at the time the reward was due.
a = trials[trials["trial_type"] == "A+"]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(a["trial"], a["cue_rpe"], ".-", label="cue RPE")
ax.plot(a["trial"], a["reward_rpe"], ".", label="reward RPE (omissions < 0)")
ax.axhline(0, color="0.7", lw=0.8)
ax.set(xlabel="trial", ylabel="prediction error", title="Cue A, rewarded on 80 % of trials")
ax.legend(frameon=False)
fig.tight_layout()

late_cue = a["cue_rpe"].iloc[-10:].mean()
print(f"late cue RPE: {late_cue:.3f}")

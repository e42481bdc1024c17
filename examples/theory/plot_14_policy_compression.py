"""
Policy compression: a default policy that keeps the soft signals alive
======================================================================

In soft (entropy-regularised) reinforcement learning the choice rule is
π(a|s) ∝ π0(a|s) exp(Q(s,a)/τ), and the soft signals — the action term τ log(π/π0), the KL cost,
the action prediction error 1 − π0(a|s) — all compare the policy with the default policy π0.
If π0 is learned *per state* from the animal's own choices (a habit), it converges onto π itself, and
after training every one of those signals is zero: the habit absorbs them. If instead one π0 is shared
by all states — the marginal of the policy, as in the policy-compression account of Lai & Gershman
(2021) — it cannot match every state's policy, so the soft signals persist. This example trains the
same agent both ways on a two-cue discrimination and compares what is left after training.
"""

# %%
# Train the agent twice
# ---------------------
# The same agent, task and seed; only where the learned default policy lives differs:
# ``prior_scope="per-state"`` (a habit per cue) or ``"marginal"`` (one π0 for both cues).
import numpy as np

from dopasoft.analysis import plot_policy_compression
from dopasoft.experiments import discrimination_experiment

habit = discrimination_experiment(400, prior_rate=0.05, prior_scope="per-state", seed=0)
compressed = discrimination_experiment(400, prior_rate=0.05, prior_scope="marginal", seed=0)

# %%
# What is left after training
# ---------------------------
# Both agents choose correctly on every late trial. Under the habit, π0(· | cue) ≈ π(· | cue), so the
# action term and the action prediction error are ~0. Under compression, π0 is the marginal of the
# two cues' opposite choices (about one half each), so τ log(π/π0) stays near τ log 2 and the action
# prediction error near 1/2.
late_habit, late_compressed = habit.iloc[-50:], compressed.iloc[-50:]
print(
    f"correct over the last 50 trials: per-state {late_habit['correct'].mean():.2f}, "
    f"marginal {late_compressed['correct'].mean():.2f}"
)
print(
    "mean |action term| after training: "
    f"per-state {np.abs(late_habit['action_term']).mean():.1e}, "
    f"marginal {np.abs(late_compressed['action_term']).mean():.3f}"
)
print(
    "mean action prediction error after training: "
    f"per-state {late_habit['action_pe'].mean():.1e}, marginal {late_compressed['action_pe'].mean():.3f}"
)

# %%
# The signals over training
# -------------------------
# Running means over 10 trials: the per-state habit (grey) drives both signals to zero; the shared
# default policy (blue) keeps them.
fig = plot_policy_compression(habit, compressed)

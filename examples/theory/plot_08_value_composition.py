"""
Value composition: "A or B" without new learning
================================================

Soft values compose. If Q_A and Q_B are the soft-optimal values of two tasks that differ only in their goal
rewards, the values of the task "reach A or B" are τ log Σ_i w_i exp(Q_i/τ) — no new learning needed
(Todorov 2009; Van Niekerk et al. 2019). The composition is exact on deterministic first-exit
tasks and an approximation elsewhere (:doc:`../../maths`, §8).
"""

# %%
# Exact values compose exactly
# ----------------------------
import matplotlib.pyplot as plt
import numpy as np

import dopasoft as ds
from dopasoft.experiments import composition_experiment
from dopasoft.tasks import gridworld_mdp

layout = ["A....#...", "..#..#.#.", "..#....#B", "..####...", "........."]
tau = 0.5
q_a = gridworld_mdp(layout, {"A": 1.0, "B": -1.0}).solve(gamma=1.0, tau=tau).q
q_b = gridworld_mdp(layout, {"A": -1.0, "B": 1.0}).solve(gamma=1.0, tau=tau).q
q_or = ds.compose([q_a, q_b], [0.5, 0.5], tau=tau)
# ground truth: the composed task's own rewards, exp(r_or / tau) = 0.5 exp(r_A / tau) + 0.5 exp(r_B / tau)
r_or = tau * np.log(0.5 * np.exp(1.0 / tau) + 0.5 * np.exp(-1.0 / tau))
q_true = gridworld_mdp(layout, {"A": r_or, "B": r_or}).solve(gamma=1.0, tau=tau).q
print(f"exact composition error: {np.abs(q_or - q_true).max():.2e}")

# %%
# Learnt values compose too
# -------------------------
# Each goal is learnt apart by tree-backup Soft Q(λ); the composed table is compared with the composed
# task's Q*, and with a learner of the composed task from scratch.
result = composition_experiment(seed=0)  # 10,000 steps per goal
fig = ds.analysis.plot_composition(result)
plt.show()
print(f"composed learnt values, error to Q*: {result.composed_error:.3f}")

"""
Soft Q(λ) off-policy: learning the soft-optimal values from someone else's behaviour
====================================================================================

The soft theory's agent acts by a Boltzmann policy π(a|s) ∝ π0(a|s) exp(Q(s,a)/τ) and its values obey the
soft Bellman equation, whose fixed point Q* soft value iteration computes exactly on a known task. Soft Q(λ)
with tree-backup traces learns Q* from any behaviour that tries every action — here a behaviour policy that
mostly picks one action — and every update returns its TD error split into the state-value prediction error
and the action term, ``delta = value_rpe − action_term`` (the model dopamine quantities; :doc:`../../maths`).
"""

# %%
# Ground truth on a random task
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np

import dopasoft as ds
from dopasoft.tasks import random_mdp

gamma, tau = 0.8, 1.0
mdp = random_mdp(5, 3, seed=1)
q_star = mdp.solve(gamma=gamma, tau=tau).q
pi_star = ds.boltzmann_policy(q_star, tau=tau)
print("soft-optimal policy:\n", pi_star.round(2))

# %%
# Learn from a skewed behaviour policy
# ------------------------------------
# The behaviour picks action 0 with probability 0.6; the learner updates on every transition (with the
# task's expected reward, so that the only noise is that of the transitions), with a step size decaying as
# α_t = 0.5 (1 + t/500)^−0.6, and we average its iterates over the second half of learning (Polyak
# averaging), which removes the remaining jitter of a constant-ish step.
rng = np.random.default_rng(0)  # the behaviour's random stream
behaviour = np.array([0.6, 0.2, 0.2])
agent = ds.SoftQLambda(5, 3, alpha=0.5, tau=tau, lam=0.8, gamma=gamma)
# the task's own stream, seeded apart: seeding both with 0 would make them one and the same stream, and the
# behaviour's choices would be correlated with the task's transitions
state, _ = mdp.reset(seed=10_000)
snapshots, errors = [], []
for t in range(20000):
    action = int(rng.choice(3, p=behaviour))
    next_state, _, terminal, _, _ = mdp.step(action)
    agent.alpha = 0.5 * (1 + t / 500) ** -0.6
    agent.update(state, action, mdp.R[state, action], next_state, terminal)
    state = next_state
    if (t + 1) % 100 == 0:
        snapshots.append(agent.q)
        q_bar = np.mean(snapshots[len(snapshots) // 2 :], axis=0)
        errors.append(np.abs(q_bar - q_star).max())
signals = agent.last_step
print(
    f"last step: delta {signals.delta:.3f} = value_rpe {signals.value_rpe:.3f} - action_term {signals.action_term:.3f}"
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
ax1.plot((np.arange(len(errors)) + 1) * 100, errors, color="#0072B2")
ax1.set(xlabel="steps", ylabel="max |Q − Q*|", yscale="log", title="a  error to Q*")
ax2.plot(q_star.ravel(), q_bar.ravel(), "o", color="#0072B2")
lims = [q_star.min() - 0.2, q_star.max() + 0.2]
ax2.plot(lims, lims, color="0.6", ls="--")
ax2.set(xlabel="Q* (soft value iteration)", ylabel="Q learnt", title="b  learnt against exact")
fig.tight_layout()
print(f"final max |Q - Q*|: {np.abs(q_bar - q_star).max():.3f}")

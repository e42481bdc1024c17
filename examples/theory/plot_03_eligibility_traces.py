"""
What eligibility traces are for
===============================

A reward at the end of a long chain of states reaches the first state only after many passes when each
update looks one step ahead (λ = 0): the value creeps back one state per pass. With an eligibility trace
(λ = 0.9) every recently visited state shares the error at once. Here a tabular Soft Q(λ) learner watches a
uniformly random walker on a 10-state chain whose only reward is at its end, and we count the steps until
its values are within 0.05 of the soft-optimal values Q*, computed exactly by soft value iteration. The
behaviour is random, not the learner's own policy: tree-backup traces learn Q* off-policy
(:doc:`../../maths`, §4–5).
"""

# %%
# The task and its ground truth
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np

import dopasoft as ds
from dopasoft.tasks import chain_mdp

gamma, tau = 0.95, 0.1
mdp = chain_mdp(10, reward=1.0)  # action 1 moves right, action 0 stays; the last state is terminal
q_star = mdp.solve(gamma=gamma, tau=tau).q
live = ~mdp.terminal
print(f"Q* of the first state (stay, move): {q_star[0].round(3)}")

# %%
# Learn from a random walker, with and without traces
# ---------------------------------------------------
# The environment speaks the gymnasium interface (``reset``, ``step``); the learner's ``update`` takes one
# transition and returns its soft TD error. Traces are cleared at the end of each episode.


def learn(lam, n_steps=1500, seed=0):
    agent = ds.SoftQLambda(mdp.n_states, 2, alpha=0.5, tau=tau, lam=lam, gamma=gamma)
    rng = np.random.default_rng(seed)  # the walker's stream
    state, _ = mdp.reset(seed=seed + 10_000)  # the task's, seeded apart (one seed would make one stream)
    errors = []
    for _ in range(n_steps):
        action = int(rng.integers(2))
        next_state, reward, terminal, _, _ = mdp.step(action)
        agent.update(state, action, reward, next_state, terminal)
        if terminal:
            agent.reset_traces()
            next_state, _ = mdp.reset()
        state = next_state
        errors.append(np.abs(agent.q[live] - q_star[live]).max())
    return np.array(errors)


fig, ax = plt.subplots(figsize=(6, 3.2))
reached = {}
for lam, color in ((0.0, "#D55E00"), (0.5, "#E69F00"), (0.9, "#0072B2")):
    errors = np.mean([learn(lam, seed=s) for s in range(3)], axis=0)  # mean over 3 random walkers
    ax.plot(np.arange(1, errors.size + 1), errors, color=color, label=f"λ = {lam}")
    reached[lam] = int(np.argmax(errors < 0.05)) + 1 if (errors < 0.05).any() else None
ax.axhline(0.05, color="0.6", ls="--", lw=0.8)
ax.set(xlabel="steps", ylabel="max |Q − Q*|", yscale="log", title="10-state chain, reward at the end")
ax.legend(frameon=False)
fig.tight_layout()

print(f"steps to max error < 0.05: {reached}")
print(f"trace speed-up: {reached[0.0] / reached[0.9]:.2f}")

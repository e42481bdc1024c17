"""Independent, deliberately plain implementations of the learners of docs/maths.md §1 (test oracles).

Written from docs/maths.md with Python lists and the math module only, sharing no code with dopasoft.
"""

import math


def soft_stats(q_row, tau, prior_row):
    """V and pi of one state, by a max-shifted log-sum-exp over the allowed actions."""
    zs = [q / tau + math.log(p) if p > 0 else -math.inf for q, p in zip(q_row, prior_row, strict=True)]
    m = max(zs)
    es = [math.exp(z - m) for z in zs]
    total = sum(es)
    return tau * (m + math.log(total)), [e / total for e in es]


class PlainSoftQLambda:
    """Backward-view Soft Q(λ) of docs/maths.md §4, one variant at a time, on a tabular Q."""

    def __init__(self, n_states, n_actions, alpha, tau, lam, gamma, trace, replacing=False, prior=None):
        self.q = [[0.0] * n_actions for _ in range(n_states)]
        self.e = [[0.0] * n_actions for _ in range(n_states)]
        self.alpha, self.tau, self.lam, self.gamma = alpha, tau, lam, gamma
        self.trace, self.replacing = trace, replacing
        self.prior = prior or [[1.0 / n_actions] * n_actions for _ in range(n_states)]

    def update(self, s, a, r, s2, terminated, b=None):
        v, pi = soft_stats(self.q[s], self.tau, self.prior[s])
        v2 = 0.0 if terminated else soft_stats(self.q[s2], self.tau, self.prior[s2])[0]
        delta = r + self.gamma * v2 - self.q[s][a]
        if self.trace == "tree-backup":
            c = self.gamma * self.lam * pi[a]
        elif self.trace == "retrace":
            c = self.gamma * self.lam * min(1.0, pi[a] / b)
        else:
            c = self.gamma * self.lam
        for i in range(len(self.e)):
            for j in range(len(self.e[i])):
                self.e[i][j] *= c
        if self.trace == "on-policy":
            delta_bar = r + self.gamma * v2 - sum(p * q for p, q in zip(pi, self.q[s], strict=True))
            for i in range(len(self.q)):
                for j in range(len(self.q[i])):
                    self.q[i][j] += self.alpha * delta_bar * self.e[i][j]
            self.q[s][a] += self.alpha * delta
            self.e[s][a] = 1.0 if self.replacing else self.e[s][a] + 1.0
        else:
            self.e[s][a] = 1.0 if self.replacing else self.e[s][a] + 1.0
            for i in range(len(self.q)):
                for j in range(len(self.q[i])):
                    self.q[i][j] += self.alpha * delta * self.e[i][j]
        if terminated:
            self.e = [[0.0] * len(row) for row in self.e]
        return delta


def n_step_return(q, steps, n, gamma, tau, prior, correction):
    """Weighted forward-view error w (G - Q(s_t, a_t)) of the first of ``steps`` (docs/maths.md §3).

    ``steps`` is a list of (s, a, r, s2, terminated, b) holding at most ``n`` transitions.
    """
    steps = steps[:n]
    h = len(steps)
    s0, a0 = steps[0][0], steps[0][1]
    last = steps[-1]
    v_last = 0.0 if last[4] else soft_stats(q[last[3]], tau, prior[last[3]])[0]
    if correction == "tree-backup":
        g = last[2] + gamma * v_last
        for k in range(h - 2, -1, -1):
            s1, a1 = steps[k + 1][0], steps[k + 1][1]
            v1, pi1 = soft_stats(q[s1], tau, prior[s1])
            g = steps[k][2] + gamma * (v1 - pi1[a1] * q[s1][a1] + pi1[a1] * g)
        return g - q[s0][a0]
    g = steps[0][2]
    rho = 1.0
    for k in range(1, h):
        s, a, r = steps[k][0], steps[k][1], steps[k][2]
        v, pi = soft_stats(q[s], tau, prior[s])
        kl = sum(p * math.log(p / p0) for p, p0 in zip(pi, prior[s], strict=True) if p > 0)
        g += gamma**k * (r - tau * kl)
        rho *= pi[a] / (steps[k][5] if correction == "importance" else pi[a])
    g += gamma**h * v_last
    return rho * (g - q[s0][a0])

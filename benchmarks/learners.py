"""Updates per second of every learner variant, tabular and linear, next to a plain per-step reference.

The reference is the update written the obvious way with numpy on each step (log-sum-exp, policy, trace
decay, weight update as whole-array operations), the way a lab script would write it. Both run the same
random transitions in the same process, one after the other.

Run:  python benchmarks/learners.py [--steps N]
      python benchmarks/learners.py --against DIR [--rounds 3]   # DIR holds an older dopasoft/ package

``--against`` runs this script alternately on the current package and on the one in ``DIR`` (e.g. made by
``git archive <commit> dopasoft | tar -x -C DIR``), each in its own process, and prints the best rate of
each learner over the rounds side by side, so that machine load affects both alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import dopasoft as ds

N_STATES, N_ACTIONS, N_FEATURES, ACTIVE = 20, 4, 50, 3


def plain_reference_update(W, E, x, a, r, x2, term, alpha, tau, gamma, lam, trace, b):
    """Soft Q(λ) on linear features (one-hot = tabular), numpy per step: the obvious implementation."""
    q = x @ W
    z = q / tau
    m = z.max()
    v = tau * (m + np.log(np.mean(np.exp(z - m))))
    pi = np.exp((q - v) / tau) / len(q)
    if term:
        v2 = 0.0
    else:
        z2 = (x2 @ W) / tau
        m2 = z2.max()
        v2 = tau * (m2 + np.log(np.mean(np.exp(z2 - m2))))
    delta = r + gamma * v2 - q[a]
    if trace == "tree-backup":
        E *= gamma * lam * pi[a]
    elif trace == "retrace":
        E *= gamma * lam * min(1.0, pi[a] / b)
    else:
        E *= gamma * lam
    if trace == "on-policy":
        W += alpha * (r + gamma * v2 - pi @ q) * E
        W[:, a] += alpha * delta * x
        E[:, a] += x
    else:
        E[:, a] += x
        W += alpha * delta * E
    if term:
        E[:] = 0.0
    return delta


def _soft(q, tau):
    z = q / tau
    m = z.max()
    v = tau * (m + np.log(np.mean(np.exp(z - m))))
    return v, np.exp((q - v) / tau) / len(q)


class PlainNStep:
    """n-step soft Q with a list of pending steps, each return recomputed with numpy: the obvious version."""

    def __init__(self, n_in, n, alpha, tau, gamma, correction):
        self.W = np.zeros((n_in, N_ACTIONS))
        self.n, self.alpha, self.tau, self.gamma, self.corr = n, alpha, tau, gamma, correction
        self.pending = []

    def _apply(self):
        steps, W, tau, g = self.pending, self.W, self.tau, self.gamma
        x0, a0 = steps[0][0], steps[0][1]
        last = steps[-1]
        v_last = 0.0 if last[4] else _soft(last[3] @ W, tau)[0]
        if self.corr == "tree-backup":
            ret = last[2] + g * v_last
            for k in range(len(steps) - 2, -1, -1):
                x1, a1 = steps[k + 1][0], steps[k + 1][1]
                q1 = x1 @ W
                v1, pi1 = _soft(q1, tau)
                ret = steps[k][2] + g * (v1 - pi1[a1] * q1[a1] + pi1[a1] * ret)
            w = 1.0
        else:
            ret, w = steps[0][2], 1.0
            for k in range(1, len(steps)):
                q = steps[k][0] @ W
                v, pi = _soft(q, tau)
                ret += g**k * (steps[k][2] - (pi @ q - v))
                if self.corr == "importance":
                    w *= pi[steps[k][1]] / steps[k][5]
            ret += g ** len(steps) * v_last
        W[:, a0] += self.alpha * w * (ret - x0 @ W[:, a0]) * x0
        self.pending.pop(0)

    def update(self, x, a, r, x2, term, b):
        self.pending.append((x, a, r, x2, term, b))
        if len(self.pending) == self.n:
            self._apply()
        if term:
            while self.pending:
                self._apply()


def transitions(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = rng.integers(N_STATES, size=n + 1)
    a = rng.integers(N_ACTIONS, size=n)
    r = rng.normal(size=n)
    term = rng.random(n) < 0.05
    b = rng.uniform(0.2, 1.0, size=n)
    feats = np.zeros((n + 1, N_FEATURES))
    for i in range(n + 1):
        feats[i, rng.choice(N_FEATURES, ACTIVE, replace=False)] = rng.uniform(0.5, 1.0, ACTIVE)
    return s.tolist(), a.tolist(), r.tolist(), term.tolist(), b.tolist(), feats


def rate(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def against(reference: str, steps: int, rounds: int) -> None:
    """Alternate runs on the current and the reference package; print the best rate of each row."""
    here = str(Path(__file__).resolve().parents[1])
    best: dict[str, dict[str, float]] = {"current": {}, "reference": {}}
    for _ in range(rounds):
        for label, root in (("reference", reference), ("current", here)):
            env = dict(os.environ, PYTHONPATH=root)
            out = subprocess.run(
                [sys.executable, __file__, "--steps", str(steps)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for line in out.splitlines():
                if line.startswith(("SoftQLambda", "NStepSoftQ")):
                    key, rate_ = line[:37].strip(), float(line[37:51].replace(",", ""))
                    best[label][key] = max(best[label].get(key, 0.0), rate_)
    print(f"best of {rounds} alternating runs, {steps} updates each")
    print(f"{'learner':<37}{'current /s':>12}{'reference /s':>14}{'ratio':>8}")
    for key, cur in best["current"].items():
        ref = best["reference"].get(key, float("nan"))
        print(f"{key:<37}{cur:>12,.0f}{ref:>14,.0f}{cur / ref:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--against", metavar="DIR", help="compare with the dopasoft package in DIR")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.against:
        against(args.against, args.steps, args.rounds)
        return
    n = args.steps
    s, a, r, term, b, feats = transitions(n)
    onehot = np.eye(N_STATES)
    kw = dict(alpha=0.1, tau=0.5, gamma=0.95)
    rows = []

    for mode in ("tabular", "linear"):
        n_in = N_STATES if mode == "tabular" else N_FEATURES
        linear = mode == "linear"
        xs = s if not linear else list(feats)  # what the agent is given
        ref_xs = [onehot[i] for i in s] if not linear else list(feats)  # the reference's feature vectors
        for trace in ("tree-backup", "on-policy", "uncorrected", "retrace"):
            agent = ds.SoftQLambda(n_in, N_ACTIONS, lam=0.9, trace=trace, linear=linear, **kw)
            agent.update(xs[0], a[0], r[0], xs[1], False, behaviour_prob=b[0])  # compile / warm up

            def run_agent(agent=agent, xs=xs):
                for i in range(n):
                    agent.update(xs[i], a[i], r[i], xs[i + 1], term[i], behaviour_prob=b[i])

            W = np.zeros((n_in, N_ACTIONS))
            E = np.zeros_like(W)

            def run_ref(W=W, E=E, trace=trace, ref_xs=ref_xs):
                for i in range(n):
                    plain_reference_update(
                        W, E, ref_xs[i], a[i], r[i], ref_xs[i + 1], term[i], 0.1, 0.5, 0.95, 0.9, trace, b[i]
                    )

            ours, ref = rate(run_agent, n), rate(run_ref, n)
            rows.append((f"SoftQLambda {trace}", mode, ours, ref))
        for corr in ("tree-backup", "importance", "on-policy"):
            agent = ds.NStepSoftQ(n_in, N_ACTIONS, n=3, correction=corr, linear=linear, **kw)

            def run_nstep(agent=agent, xs=xs):
                for i in range(n):
                    agent.update(xs[i], a[i], r[i], xs[i + 1], term[i], behaviour_prob=b[i])

            plain = PlainNStep(n_in, 3, 0.1, 0.5, 0.95, corr)

            def run_plain(plain=plain, ref_xs=ref_xs):
                for i in range(n):
                    plain.update(ref_xs[i], a[i], r[i], ref_xs[i + 1], term[i], b[i])

            rows.append((f"NStepSoftQ n=3 {corr}", mode, rate(run_nstep, n), rate(run_plain, n)))

    print(
        f"{n} updates each; {N_STATES} states or {N_FEATURES} features ({ACTIVE} active), {N_ACTIONS} actions"
    )
    print(f"{'learner':<28}{'states':<9}{'dopasoft /s':>14}{'plain numpy /s':>16}{'speed-up':>10}")
    for name, mode, ours, ref in rows:
        print(f"{name:<28}{mode:<9}{ours:>14,.0f}{ref:>16,.0f}{ours / ref:>9.1f}x")


if __name__ == "__main__":
    main()

"""Mult-VAE (Liang et al. 2018) z-blended with the adopted weights (session 11, not adopted).

Usage: ``.venv/bin/python benchmarks/experiments/vae_blend.py [--splits u1 ...] [--models vae dae]``

A non-linear model may make different errors from the linear item x item ensemble (temporal EASE +
the iALS and low-pass terms, chosen on the carve as ``collab_probes.pipeline_collab`` does), as
iALS's scores once did. Mult-VAE as in the paper: binary rows, L2-normalised, input dropout 0.5,
[n -> 600 -> 200 -> 600 -> n] with tanh, multinomial likelihood, the KL term's weight raised
linearly from 0 to 0.2 over the run, Adam (lr 1e-3), 100 users a batch, no weight decay; scored from
the posterior mean. Mult-DAE is the same network without the sampling and the KL term. Written in
numpy with its gradients by hand (seeded, so runs repeat; no TensorFlow). Each model's number of
epochs is chosen on the carve's validation nDCG@10 of the model alone; the blend is
``z(adopted) + w · z(model)``, z-scores over each user's unseen films, w from ``WEIGHTS``. Test is
scored only if the best w gains on validation on at least 7 of the 9 splits (the model passing
that gate with the larger mean gain, w by the mean validation gain over splits; the model refitted
on the whole training split with its epochs). The gate was met (the VAE's best w gained on all nine
splits, by at most +0.0015), but the mean gain at the chosen w (1.0) was +0.0003 on validation and
+0.0002 on test: noise. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# One BLAS thread: on the shared two cores, two threads made both the networks' small products and
# the weights' selection several times slower (0.26 against 1-2 s an epoch), and one thread repeats bit for bit.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collab_probes import SPLITS, carved_splits, finite_z, ndcg, pipeline_collab, splits_parser

WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
# Epochs tried, each a run of its own (the KL weight reaches 0.2 at its end). Both overfit the carve's
# 943 users early (u1's validation peaked at 25 and 20), so the grids reach below the paper's.
EPOCHS = {"vae": (10, 25, 50, 100, 200), "dae": (10, 20, 40, 80)}
MODELS = ("vae", "dae")
HIDDEN, LATENT = 600, 200
BETA_MAX, LR, BATCH, KEEP = 0.2, 1e-3, 100, 0.5
GATE = 7  # splits (of nine) on which the best w must gain before test is scored


class MultVAE:
    """Mult-VAE / Mult-DAE, [n -> 600 -> 200 -> 600 -> n], tanh, in float32 numpy with Adam."""

    def __init__(self, n_items: int, variational: bool, seed: int) -> None:
        self.variational = variational
        self.rng = np.random.default_rng(seed)
        out = 2 * LATENT if variational else LATENT
        dims = [(n_items, HIDDEN), (HIDDEN, out), (LATENT, HIDDEN), (HIDDEN, n_items)]
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in dims:  # Xavier-uniform weights, biases N(0, 0.001) as in the paper's code
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            self.params.append(self.rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            self.params.append((0.001 * self.rng.standard_normal(fan_out)).astype(np.float32))
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    @staticmethod
    def _normalise(x: sp.csr_matrix) -> sp.csr_matrix:
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ x, dtype=x.dtype)

    def loss_and_grads(self, rows: sp.csr_matrix, beta: float, train: bool = True) -> tuple[float, list[np.ndarray]]:
        """Negative ELBO (β-weighted KL), averaged over the batch's users, and its gradients.

        The input layer works on the sparse rows (its input needs no gradient)."""
        w1, b1, w2, b2, w3, b3, w4, b4 = self.params
        n, x = rows.shape[0], rows.toarray()
        inp = self._normalise(rows)
        if train:
            inp.data = (inp.data * (self.rng.random(inp.nnz) < KEEP) / KEEP).astype(inp.dtype)
        h1 = np.tanh(inp @ w1 + b1)
        q = h1 @ w2 + b2
        if self.variational:
            mu, logvar = q[:, :LATENT], q[:, LATENT:]
            std = np.exp(0.5 * logvar)
            eps = self.rng.standard_normal(mu.shape, dtype=np.float32) if train else np.zeros_like(mu)
            z = mu + eps * std
        else:
            z = q
        h2 = np.tanh(z @ w3 + b3)
        logits = h2 @ w4 + b4
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_soft = shifted - log_norm
        loss = -float((log_soft * x).sum()) / n
        d_logits = (np.exp(log_soft) * x.sum(axis=1, keepdims=True) - x) / n
        g4, gb4 = h2.T @ d_logits, d_logits.sum(axis=0)
        d_a3 = (d_logits @ w4.T) * (1.0 - h2 * h2)
        g3, gb3 = z.T @ d_a3, d_a3.sum(axis=0)
        d_z = d_a3 @ w3.T
        if self.variational:
            var = std * std
            loss += beta * float((0.5 * (-logvar + var + mu * mu - 1.0)).sum()) / n
            d_q = np.concatenate([d_z + beta * mu / n, d_z * eps * 0.5 * std + beta * 0.5 * (var - 1.0) / n], axis=1)
        else:
            d_q = d_z
        g2, gb2 = h1.T @ d_q, d_q.sum(axis=0)
        d_a1 = (d_q @ w2.T) * (1.0 - h1 * h1)
        g1, gb1 = np.asarray(inp.T @ d_a1), d_a1.sum(axis=0)
        return loss, [g1, gb1, g2, gb2, g3, gb3, g4, gb4]

    def step(self, grads: list[np.ndarray], b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.t += 1
        scale = LR * np.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            p -= (scale * m / (np.sqrt(v) + eps)).astype(np.float32)

    def fit(self, x: sp.csr_matrix, epochs: int) -> MultVAE:
        rows = sp.csr_matrix(x, dtype=np.float32)
        steps = epochs * -(-rows.shape[0] // BATCH)
        for _ in range(epochs):
            order = self.rng.permutation(rows.shape[0])
            for start in range(0, rows.shape[0], BATCH):
                beta = BETA_MAX * self.t / steps if self.variational else 0.0
                _, grads = self.loss_and_grads(rows[order[start:start + BATCH]], beta)
                self.step(grads)
        return self

    def scores(self, x: sp.csr_matrix) -> np.ndarray:
        """Logits of every film for each row of ``x``, from the posterior mean, no dropout."""
        w1, b1, w2, b2, w3, b3, w4, b4 = self.params
        q = np.tanh(self._normalise(sp.csr_matrix(x, dtype=np.float32)) @ w1 + b1) @ w2 + b2
        return np.tanh(q[:, :LATENT] @ w3 + b3) @ w4 + b4


def train(x: sp.csr_matrix, model: str, epochs: int, seed: int = 7) -> np.ndarray:
    """The scores of ``x``'s users by ``model`` fitted on ``x`` for ``epochs`` epochs."""
    return MultVAE(x.shape[1], model == "vae", seed).fit(x, epochs).scores(x)


@dataclass
class Result:
    """One split's validation: the adopted weights, each model's curve by epochs and its blend's gains by w."""

    name: str
    adopted: float
    alone: dict[str, dict[int, float]] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)
    gains: dict[str, dict[float, float]] = field(default_factory=dict)


def blend(adopted: np.ndarray, other: np.ndarray, x: sp.csr_matrix, w: float) -> np.ndarray:
    return finite_z(adopted, x) + w * finite_z(other, x)


def validate(s_fit: sp.csr_matrix, s_val: sp.csr_matrix, adopted: np.ndarray, name: str, models: list[str]) -> Result:
    result = Result(name, ndcg(s_fit, s_val, adopted))
    for model in models:
        runs = {e: train(s_fit, model, e) for e in EPOCHS[model]}
        result.alone[model] = {e: ndcg(s_fit, s_val, scores) for e, scores in runs.items()}
        best = max(result.alone[model], key=result.alone[model].__getitem__)
        result.epochs[model] = best
        result.gains[model] = {w: ndcg(s_fit, s_val, blend(adopted, runs[best], s_fit, w)) - result.adopted for w in WEIGHTS}
    return result


def main() -> None:
    parser = splits_parser(__doc__ or "")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    results, carved = [], []
    t_carve = time.perf_counter()
    for s in carved_splits(args):
        t0 = time.perf_counter()
        r = validate(s.fit, s.val, np.asarray(s.fit @ s.weights), s.name, args.models)
        results.append(r)
        carved.append((s.name, s.x, s.test, s.stamps))
        parts = [f"{s.name}: adopted {r.adopted:.4f}"]
        for m in args.models:
            best = max(r.gains[m], key=r.gains[m].__getitem__)
            parts.append(f"{m} by epochs {({e: round(v, 4) for e, v in r.alone[m].items()})}, {r.epochs[m]} chosen; "
                         f"blend change by w {({w: round(g, 4) for w, g in r.gains[m].items()})}, best w {best} {r.gains[m][best]:+.4f}")
        print("; ".join(parts) + f" [carve {t0 - t_carve:.0f} s, models {time.perf_counter() - t0:.0f} s]", flush=True)
        t_carve = time.perf_counter()
    passing = {}
    for m in args.models:
        wins = sum(max(r.gains[m].values()) > 0 for r in results)
        mean = {w: float(np.mean([r.gains[m][w] for r in results])) for w in WEIGHTS}
        w = max(mean, key=mean.__getitem__)
        print(f"{m}: best w gains on {wins} of {len(results)} splits; mean change by w {({k: round(v, 5) for k, v in mean.items()})}")
        if wins >= GATE and len(results) == len(SPLITS):
            passing[m] = (mean[w], w)
    if not passing:
        print("the gate is not met: test not scored")
        return
    model = max(passing, key=lambda m: passing[m][0])
    w = passing[model][1]
    print(f"test: {model}, w {w}")
    for (name, x, test, stamps), r in zip(carved, results, strict=True):
        t0 = time.perf_counter()
        adopted = np.asarray(x @ pipeline_collab(x, stamps)[1])
        other = train(x, model, r.epochs[model])
        before, after = ndcg(x, test, adopted), ndcg(x, test, blend(adopted, other, x, w))
        print(f"{name}: test adopted {before:.4f}, blended {after:.4f} ({after - before:+.4f}) [{time.perf_counter() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()

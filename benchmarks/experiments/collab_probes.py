"""Experiments (session 6, not adopted): how the collaborative part is chosen, ML-100K.

Usage: ``.venv/bin/python benchmarks/experiments/collab_probes.py [--filter-by user|item] [--probe ...]``

- ``folds``: EASE's (λ, c) x the temporal term, then the low-rank term's settings and weight, chosen
  by exhaustive search on the pipeline's single carve (per user 75/25, seed 7), then on 4 folds
  (each user's training ratings in 4 random parts, each validating once, nDCG averaged); test is
  scored once for each choice.
- ``infinite-ae``: ∞-AE (Sachdeva et al. 2022): kernel ridge regression of each user's row on
  all users' rows with the neural tangent kernel of an infinitely wide one-hidden-layer ReLU
  autoencoder; alone and z-blended with temporal EASE + the low-rank term, on the carve.
- ``ials-seeds``: the low-rank term from one iALS initialisation against the mean of four.

Validation figures are on the carve; test is scored only where validation showed a gain.
Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protocol import arguments, load_split, temporal_ease_weights

from recommendations.ml.collab import (
    LAMBDA_GRID,
    TEMPORAL_GRID,
    TEMPORAL_POP_REG_GRID,
    binarize,
    carve_validation,
    scores_ndcg,
)
from recommendations.ml.hybrid import zscore_rows
from recommendations.ml.lowrank import LOWRANK_WEIGHTS, add_lowrank, ials_item_factors, lowrank_grid, lowrank_weights

Key = tuple[float, float, int, float]  # λ, c, temporal window, temporal weight (0: none)
KEYS: list[Key] = [(lam, c, 0, 0.0) for lam in LAMBDA_GRID for c in (0.0, 1.0, 2.0, 4.0, 8.0)]
KEYS += [(lam, c, w, a) for lam in LAMBDA_GRID for c in TEMPORAL_POP_REG_GRID for w, a in TEMPORAL_GRID]
# What the single-carve search chooses on the user split (the "folds" probe prints it).
CHOSEN: Key = (400.0, 4.0, 3, 2.0)
CHOSEN_LOWRANK = ((64, 0.1, 0.03), 1.0)


def folds(x: sp.csr_matrix, k: int, seed: int = 7) -> list[tuple[sp.csr_matrix, sp.csr_matrix]]:
    """Per user, a random 1/k of the training ratings validates and the rest fits, k times."""
    if k == 1:
        return [carve_validation(x, seed=seed)]
    rng = np.random.default_rng(seed)
    coo = sp.coo_matrix(x)
    order = np.lexsort((rng.random(coo.nnz), coo.row))  # users in turn, random order within each
    rows = coo.row[order]
    position = np.arange(coo.nnz) - np.searchsorted(rows, rows, side="left")
    fold = np.empty(coo.nnz, dtype=np.int64)
    fold[order] = (position + rng.integers(0, k, coo.shape[0])[rows]) % k
    out = []
    for f in range(k):
        m = fold != f
        fit = sp.csr_matrix((coo.data[m], (coo.row[m], coo.col[m])), shape=x.shape)
        val = sp.csr_matrix((coo.data[~m], (coo.row[~m], coo.col[~m])), shape=x.shape)
        out.append((fit, val))
    return out


def ndcg(fit: sp.csr_matrix, truth: sp.csr_matrix, scores: np.ndarray) -> float:
    """nDCG@10 of ``scores`` (one row per user of ``fit``) against ``truth``, fit films excluded."""
    users = np.flatnonzero((np.diff(truth.indptr) > 0) & (np.diff(fit.indptr) > 0))
    xf = sp.csr_matrix(fit[users], dtype=np.float32)
    return scores_ndcg(xf, binarize(sp.csr_matrix(truth[users])), scores[users], 10)


def ease(x: sp.csr_matrix, stamps: sp.csr_matrix, key: Key) -> np.ndarray:
    lam, c, w, a = key
    return temporal_ease_weights(x, stamps, {"lam": lam, "pop_reg": c, "temporal_window": w, "temporal_weight": a})


def with_lowrank(x: sp.csr_matrix, b: np.ndarray, cfg: tuple[int, float, float], weight: float, seed: int = 7) -> np.ndarray:
    return add_lowrank(b, x, lowrank_weights(x, ials_item_factors(x, *cfg, seed=seed), cfg[1], cfg[2]), weight)


def mean_val(pairs: list[tuple[sp.csr_matrix, sp.csr_matrix]], weights: list[np.ndarray]) -> float:
    """Validation nDCG@10 of each fold's weights, averaged over the folds."""
    return float(np.mean([ndcg(f, v, np.asarray(f @ b)) for (f, v), b in zip(pairs, weights, strict=True)]))


def folds_probe(x: sp.csr_matrix, test: sp.csr_matrix, stamps: sp.csr_matrix) -> None:
    for k in (1, 4):
        pairs = folds(x, k)
        t0 = time.perf_counter()

        curve = {key: mean_val(pairs, [ease(f, stamps, key) for f, _ in pairs]) for key in KEYS}
        best = max(curve, key=curve.__getitem__)
        bases = [ease(f, stamps, best) for f, _ in pairs]
        lr_curve: dict[tuple[tuple[int, float, float] | None, float], float] = {(None, 0.0): curve[best]}
        for cfg in lowrank_grid(x.shape[1]):
            lrs = [lowrank_weights(f, ials_item_factors(f, *cfg, seed=7), cfg[1], cfg[2]) for f, _ in pairs]
            for w in LOWRANK_WEIGHTS[1:]:
                lr_curve[(cfg, w)] = mean_val(pairs, [add_lowrank(b.copy(), f, lr, w) for (f, _), b, lr in zip(pairs, bases, lrs, strict=True)])
        cfg, w = max(lr_curve, key=lr_curve.__getitem__)
        b = ease(x, stamps, best)
        line = f"{k} fold(s), {time.perf_counter() - t0:.0f} s: EASE {best} validation {curve[best]:.4f}, test {ndcg(x, test, np.asarray(x @ b)):.4f}"
        if cfg is not None:
            b = with_lowrank(x, b, cfg, w)
        print(f"{line}; low-rank {cfg} weight {w}: validation {lr_curve[(cfg, w)]:.4f}, test {ndcg(x, test, np.asarray(x @ b)):.4f}")


def ntk_scores(x: sp.csr_matrix, ridge: float) -> np.ndarray:
    """∞-AE: K (K + ridge · mean diag K · I)⁻¹ X, K the one-hidden-layer ReLU NTK between users."""
    a = np.asarray(x.todense(), dtype=np.float64)
    dot = a @ a.T
    norms = np.sqrt(np.diag(dot))
    outer = np.maximum(np.outer(norms, norms), 1e-12)
    cos = np.clip(dot / outer, -1.0, 1.0)
    angle = np.arccos(cos)
    kernel = dot * (np.pi - angle) / np.pi + outer * (cos * (np.pi - angle) + np.sqrt(1.0 - cos * cos)) / np.pi
    reg = ridge * float(np.mean(np.diag(kernel))) * np.eye(kernel.shape[0])
    return kernel @ np.linalg.solve(kernel + reg, a)


def finite_z(scores: np.ndarray, x: sp.csr_matrix) -> np.ndarray:
    z = zscore_rows(scores, x)
    return np.where(np.isfinite(z), z, 0.0)


def main() -> None:
    args = arguments(__doc__ or "", "probe", ("folds", "infinite-ae", "ials-seeds"))
    _, x, test, stamps = load_split(args)
    if args.probe == "folds":
        folds_probe(x, test, stamps)
        return
    fx, vx = carve_validation(x, seed=7)
    b = ease(fx, stamps, CHOSEN)
    if args.probe == "ials-seeds":
        cfg = CHOSEN_LOWRANK[0]
        lrs = [lowrank_weights(fx, ials_item_factors(fx, *cfg, seed=s), cfg[1], cfg[2]) for s in range(4)]
        for w in (0.75, 1.0, 1.5):
            single = [ndcg(fx, vx, np.asarray(fx @ add_lowrank(b.copy(), fx, lr, w))) for lr in lrs]
            mean = ndcg(fx, vx, np.asarray(fx @ add_lowrank(b.copy(), fx, np.mean(lrs, axis=0), w)))
            print(f"weight {w}: validation with seeds 0-3 {np.round(single, 4).tolist()}, with their mean term {mean:.4f}")
        return
    base = np.asarray(fx @ with_lowrank(fx, b, *CHOSEN_LOWRANK))
    print(f"temporal EASE + low-rank term: validation {ndcg(fx, vx, base):.4f}")
    for ridge in (0.1, 1.0, 3.0, 10.0, 30.0, 100.0):
        inf = ntk_scores(fx, ridge)
        blends = {w: ndcg(fx, vx, finite_z(base, fx) + w * finite_z(inf, fx)) for w in (0.1, 0.2, 0.3, 0.5, 1.0)}
        print(f"∞-AE ridge {ridge}: alone {ndcg(fx, vx, inf):.4f}; blended", {w: round(v, 4) for w, v in blends.items()})


if __name__ == "__main__":
    main()

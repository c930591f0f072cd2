"""Experiments (not adopted): more signals blended with temporal EASE, ML-100K.

Usage: ``.venv/bin/python benchmarks/experiments/blend_probes.py [--filter-by user|item] [--probe ...]``

- ``ensemble``: iALS (Hu et al. 2008, frequency-scaled ridge as in Rendle et al. 2022) and RP3beta
  z-scored and added to temporal EASE, weights by coordinate ascent on validation;
- ``lowrank``: the adopted term (``recommendations.ml.lowrank``) as ``HybridModel`` chooses it: EASE's
  parameters, then the iALS settings and weight, on the validation carve; test scored once;
- ``content-knn``: content as a sum over the user's films of their nearest films by embedding (top k,
  cosine^p), instead of the cosine to the mean of the user's film vectors, blended with temporal EASE.
  Uses the zero-shot MiniLM vectors (cached in ``var/experiments``).

Two-level carve, so that nothing is chosen on test: EASE's parameters and iALS's are chosen on a carve
of the validation fit part, the blend weights on the validation carve (per user, seed 7); the test
split is scored once. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protocol import arguments, load_split, temporal_ease_weights

from recommendations.ml.collab import (
    binarize,
    carve_validation,
    default_grid,
    fit_rp3beta,
    select_ease_params,
)
from recommendations.ml.evaluation import film_docs_ml100k
from recommendations.ml.hybrid import taste_scores, zscore_rows
from recommendations.ml.lowrank import LOWRANK_WEIGHTS, add_lowrank, ials_item_factors, lowrank_grid, lowrank_weights
from recommendations.ml.metrics import per_user_ndcg, top_k_fast

ROOT = Path(__file__).resolve().parents[2]
IALS_GRID = [(k, w0, reg) for k in (64, 128) for w0 in (0.1, 1.0) for reg in (0.01, 0.03, 0.1)]
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def ndcg(scores: np.ndarray, seen: sp.csr_matrix, truth: sp.csr_matrix) -> float:
    users = np.flatnonzero((np.diff(truth.indptr) > 0) & (np.diff(seen.indptr) > 0))
    s = np.nan_to_num(scores[users], neginf=-1e9)
    xs = seen[users]
    s[np.repeat(np.arange(users.size), np.diff(xs.indptr)), xs.indices] = -np.inf
    return float(per_user_ndcg(top_k_fast(s, 10), binarize(truth[users]), 10).mean())


def ials(x: sp.csr_matrix, k: int, w0: float, reg: float, iters: int = 8, seed: int = 0) -> np.ndarray:
    """Scores U Vᵀ of implicit ALS: observed cells weigh 1 + w0 toward 1, all cells w0 toward 0;
    each row's ridge grows with its number of observed cells plus w0 · the other side's size."""
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 0.1 / np.sqrt(k), (x.shape[0], k))
    v = rng.normal(0, 0.1 / np.sqrt(k), (x.shape[1], k))

    def solve(m: sp.csr_matrix, y: np.ndarray) -> np.ndarray:
        g = w0 * (y.T @ y)
        out = np.zeros((m.shape[0], k))
        for r in range(m.shape[0]):
            idx = m.indices[m.indptr[r] : m.indptr[r + 1]]
            if idx.size:
                yi = y[idx]
                a = g + yi.T @ yi + reg * (idx.size + w0 * y.shape[0]) * np.eye(k)
                out[r] = np.linalg.solve(a, (1 + w0) * yi.sum(0))
        return out

    xc, xt = sp.csr_matrix(x), sp.csr_matrix(x.T)
    for _ in range(iters):
        u = solve(xc, v)
        v = solve(xt, u)
    return u @ v.T


def temporal_ease(x: sp.csr_matrix, stamps: sp.csr_matrix, params: dict[str, float]) -> np.ndarray:
    return np.asarray(x @ temporal_ease_weights(x, stamps, params))


def coordinate_ascent(base: np.ndarray, extra: dict[str, np.ndarray], score: Callable[[np.ndarray], float]) -> tuple[float, dict[str, float]]:
    w = dict.fromkeys(extra, 0.0)
    best = score(base)
    for _ in range(2):
        for name in extra:
            for g in WEIGHTS:
                trial = {**w, name: g}
                v = score(base + sum(trial[m] * extra[m] for m in extra))
                if v > best + 1e-6:
                    best, w = v, trial
    return best, w


def lowrank_probe(x: sp.csr_matrix, fx: sp.csr_matrix, vx: sp.csr_matrix, test: sp.csr_matrix, stamps: sp.csr_matrix) -> None:
    params = select_ease_params(x, default_grid(x.shape[1]), fit_val=(fx, vx), stamps=stamps)[0]
    b_fit = temporal_ease_weights(fx, stamps, params)
    print(f"temporal EASE {params}")
    best = (ndcg(np.asarray(fx @ b_fit), fx, vx), None, 0.0)
    for cfg in lowrank_grid(x.shape[1]):
        lr = lowrank_weights(fx, ials_item_factors(fx, *cfg), cfg[1], cfg[2])
        for w in LOWRANK_WEIGHTS[1:]:
            v = ndcg(np.asarray(fx @ add_lowrank(b_fit.copy(), fx, lr, w)), fx, vx)
            print(f"  {cfg} weight {w}: validation {v:.4f}")
            if v > best[0]:
                best = (v, cfg, w)
    print(f"chosen {best[1]} weight {best[2]}: validation {best[0]:.4f}")
    b = temporal_ease_weights(x, stamps, params)
    print(f"test: EASE {ndcg(np.asarray(x @ b), x, test):.4f}", end="")
    if best[1] is not None:
        cfg = best[1]
        add_lowrank(b, x, lowrank_weights(x, ials_item_factors(x, *cfg), cfg[1], cfg[2]), best[2])
    print(f", with the low-rank term {ndcg(np.asarray(x @ b), x, test):.4f}")


def main() -> None:
    args = arguments(__doc__ or "", "probe", ("ensemble", "lowrank", "content-knn"))
    data, x, test, stamps = load_split(args)
    fx, vx = carve_validation(x, seed=7)
    ffx, fvx = carve_validation(fx, seed=11)

    if args.probe == "lowrank":
        lowrank_probe(x, fx, vx, test, stamps)
        return

    def ease_params(xx: sp.csr_matrix) -> dict[str, float]:
        return select_ease_params(xx, default_grid(xx.shape[1]), stamps=stamps)[0]

    pv, pt = ease_params(fx), ease_params(x)
    ease_v = zscore_rows(temporal_ease(fx, stamps, pv), fx)
    ease_t = zscore_rows(temporal_ease(x, stamps, pt), x)
    print(f"temporal EASE: validation {ndcg(ease_v, fx, vx):.4f}, test {ndcg(ease_t, x, test):.4f}")

    if args.probe == "ensemble":
        inner = sorted((ndcg(ials(ffx, *c), ffx, fvx), c) for c in IALS_GRID)
        print("iALS on the inner carve, best three:", [(round(v, 4), c) for v, c in inner[-3:]])
        c = inner[-1][1]

        def extras(xx: sp.csr_matrix) -> dict[str, np.ndarray]:
            return {
                "ials": zscore_rows(ials(xx, *c), xx),
                "rp3beta": zscore_rows(np.asarray((xx @ fit_rp3beta(xx, 1.0, 0.5, 200)).todense()), xx),
            }
    else:
        cache = ROOT / "var" / "experiments" / "ml100k_minilm.npy"
        if not cache.exists():
            from recommendations.ml.encoder import embed_texts
            from recommendations.ml.text import film_text

            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, embed_texts([film_text(d) for d in film_docs_ml100k(data, args.data_dir)[0]]))
        e = np.load(cache)
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        sim = e @ e.T
        np.fill_diagonal(sim, 0.0)

        def knn(k: int, p: float) -> np.ndarray:
            w = np.maximum(sim, 0.0)
            np.put_along_axis(w, np.argpartition(-w, k, axis=1)[:, k:], 0.0, axis=1)
            return w**p

        settings = [(20, 1.0), (50, 1.0), (50, 3.0), (200, 5.0)]
        inner = sorted((ndcg(np.asarray(ffx @ knn(k, p)), ffx, fvx), (k, p)) for k, p in settings)
        print(f"content alone on the inner carve: mean vector {ndcg(taste_scores(ffx, e), ffx, fvx):.4f}; kNN", [(round(v, 4), s) for v, s in inner])
        kp = inner[-1][1]

        def extras(xx: sp.csr_matrix) -> dict[str, np.ndarray]:
            return {"content_knn": zscore_rows(np.asarray(xx @ knn(*kp)), xx)}

    val, w = coordinate_ascent(ease_v, extras(fx), lambda s: ndcg(s, fx, vx))
    print(f"blend weights {w}: validation {val:.4f}")
    ext = extras(x)
    print(f"test: {ndcg(ease_t + sum(w[m] * ext[m] for m in ext), x, test):.4f}")


if __name__ == "__main__":
    main()

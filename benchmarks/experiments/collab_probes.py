"""Experiments on how the collaborative part is chosen, ML-100K (session 6, not adopted; session 7's low-pass term, adopted).

Usage: ``.venv/bin/python benchmarks/experiments/collab_probes.py [--filter-by user|item] [--probe ...]``

- ``folds``: EASE's (λ, c) x the temporal term, then the low-rank term's settings and weight, chosen
  by exhaustive search on the pipeline's single carve (per user 75/25, seed 7), then on 4 folds
  (each user's training ratings in 4 random parts, each validating once, nDCG averaged); test is
  scored once for each choice.
- ``infinite-ae``: ∞-AE (Sachdeva et al. 2022): kernel ridge regression of each user's row on
  all users' rows with the neural tangent kernel of an infinitely wide one-hidden-layer ReLU
  autoencoder; alone and z-blended with temporal EASE + the low-rank term, on the carve.
- ``ials-seeds``: the low-rank term from one iALS initialisation against the mean of four.
- ``lowpass``: GF-CF's ideal low-pass filter (Shen et al. 2021), ``D^-1/2 U_k U_kᵀ D^1/2`` from the top
  k right singular vectors of the degree-normalised matrix: deterministic, in place of the iALS term
  and on top of it.
- ``lowpass-splits``: the adopted low-pass stage as ``HybridModel.fit`` runs it (``lowpass_grid``,
  ``LOWPASS_WEIGHTS``, chosen on the carve, on top of validated temporal EASE + the iALS term), on
  ML-100K's own u1-u5, ua, ub and both protocol splits: validation and test with and without it.
- ``linear-filter``: GF-CF's other part, the normalised co-occurrence ``R̃ᵀR̃``, on top of the adopted
  weights, on the same nine splits (validation only).

Validation figures are on the carve; test is scored only where validation showed a gain.
Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
    default_grid,
    scores_ndcg,
    select_ease_params,
    stamp_matrix,
)
from recommendations.ml.evaluation import DATA_DIR
from recommendations.ml.hybrid import HybridModel, zscore_rows
from recommendations.ml.lowrank import (
    LOWRANK_WEIGHTS,
    add_lowrank,
    ials_item_factors,
    lowpass_weights,
    lowrank_grid,
    lowrank_weights,
)

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


def lowpass_probe(x: sp.csr_matrix, test: sp.csr_matrix, stamps: sp.csr_matrix, fx: sp.csr_matrix, vx: sp.csr_matrix, b: np.ndarray) -> None:
    with_ials = with_lowrank(fx, b.copy(), *CHOSEN_LOWRANK)
    reference = ndcg(fx, vx, np.asarray(fx @ with_ials))
    print(f"temporal EASE {ndcg(fx, vx, np.asarray(fx @ b)):.4f}; + iALS term {reference:.4f}")
    best: tuple[float, int, float, bool] = (0.0, 0, 0.0, False)
    for k in (16, 32, 64, 128, 256):
        lp = lowpass_weights(fx, k)
        for on_ials in (False, True):
            start = with_ials if on_ials else b
            curve = {w: ndcg(fx, vx, np.asarray(fx @ add_lowrank(start.copy(), fx, lp, w))) for w in LOWRANK_WEIGHTS[1:]}
            w = max(curve, key=curve.__getitem__)
            print(f"k {k}, {'on the iALS term' if on_ials else 'instead of it'}:", {w: round(v, 4) for w, v in curve.items()})
            if curve[w] > best[0]:
                best = (curve[w], k, w, on_ials)
    val, k, w, on_ials = best
    print(f"best: k {k}, weight {w}, {'on' if on_ials else 'instead of'} the iALS term, validation {val:.4f}")
    if val <= reference:
        return  # no validation gain: test is not scored
    full = ease(x, stamps, CHOSEN)
    if on_ials:
        full = with_lowrank(x, full, *CHOSEN_LOWRANK)
    full = add_lowrank(full, x, lowpass_weights(x, k), w)
    ref = with_lowrank(x, ease(x, stamps, CHOSEN), *CHOSEN_LOWRANK)
    print(f"test {ndcg(x, test, np.asarray(x @ full)):.4f} against {ndcg(x, test, np.asarray(x @ ref)):.4f} with the iALS term")


def pipeline_collab(x: sp.csr_matrix, stamps: sp.csr_matrix, on_fit_part: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """Collaborative weights fitted on all of ``x`` (or on its carve's fit part) without and with
    the low-pass term, each setting chosen on the carve by ``HybridModel.select_lowrank_terms``
    (no content prior), and a line of what was chosen."""
    fx, vx = carve_validation(x, seed=7)
    chosen, _ = select_ease_params(x, default_grid(x.shape[1]), fit_val=(fx, vx), stamps=stamps)
    model = HybridModel(seed=7)
    terms = model.select_lowrank_terms(fx, vx, temporal_ease_weights(fx, stamps, chosen))
    rows = fx if on_fit_part else x
    full = replace(terms, lowpass=None).add(temporal_ease_weights(rows, stamps, chosen), rows)
    with_lp = replace(terms, ials=None).add(full.copy(), rows)
    p = model.params
    line = (f"iALS {terms.ials} weight {terms.ials_weight}; low-pass k {terms.lowpass} weight {terms.lowpass_weight}; "
            f"validation {p['val_ndcg_lowrank']:.4f} -> {p['val_ndcg_lowpass']:.4f}")
    return full, with_lp, line


SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub", "protocol user", "protocol item")


def named_splits(args: argparse.Namespace) -> Iterator[tuple[str, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]]:
    """(name, binary train, binary test, rating times) of ML-100K's own splits, then the protocol's two."""
    shape = (943, 1682)
    for name in SPLITS:
        if name.startswith("protocol"):
            args.filter_by = name.split()[1]
            _, x, test, stamps = load_split(args)
            yield name, x, test, stamps
            continue
        base, held = (np.loadtxt(args.data_dir / "ml-100k" / f"{name}.{part}", dtype=np.int64) for part in ("base", "test"))
        x = binarize(sp.csr_matrix((np.ones(len(base)), (base[:, 0] - 1, base[:, 1] - 1)), shape=shape, dtype=np.float32))
        test = binarize(sp.csr_matrix((np.ones(len(held)), (held[:, 0] - 1, held[:, 1] - 1)), shape=shape, dtype=np.float32))
        yield name, x, test, stamp_matrix(base[:, 0] - 1, base[:, 1] - 1, base[:, 3].astype(np.float64), shape)


@dataclass
class Carved:
    """One named split with its carve and the adopted weights fitted on the carve's fit part."""

    name: str
    x: sp.csr_matrix
    test: sp.csr_matrix
    stamps: sp.csr_matrix
    fit: sp.csr_matrix
    val: sp.csr_matrix
    weights: np.ndarray
    line: str  # what the carve chose


def splits_parser(doc: str) -> argparse.ArgumentParser:
    """``--splits`` (of ``SPLITS``, all by default) and ``--data-dir``, for the probes over the nine splits."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    return parser


def carved_splits(args: argparse.Namespace) -> Iterator[Carved]:
    """The splits named by ``args.splits``, each carved (per user, seed 7) with the adopted weights on its fit part."""
    for name, x, test, stamps in named_splits(argparse.Namespace(data_dir=args.data_dir, filter_by="user")):
        if name in args.splits:
            fx, vx = carve_validation(x, seed=7)
            _, b, line = pipeline_collab(x, stamps, on_fit_part=True)
            yield Carved(name, x, test, stamps, fx, vx, b, line)


def lowpass_splits(args: argparse.Namespace) -> None:
    for name, x, test, stamps in named_splits(args):
        t0 = time.perf_counter()
        without, with_lp, line = pipeline_collab(x, stamps)
        t_without, t_with = ndcg(x, test, np.asarray(x @ without)), ndcg(x, test, np.asarray(x @ with_lp))
        print(f"{name}: {line}; test {t_without:.4f} -> {t_with:.4f} ({t_with - t_without:+.4f}) [{time.perf_counter() - t0:.0f} s]", flush=True)


def linear_filter(x: sp.csr_matrix) -> np.ndarray:
    """GF-CF's linear filter: the degree-normalised co-occurrence ``R̃ᵀR̃``, diagonal zeroed."""
    x = sp.csr_matrix(x, dtype=np.float64)
    du = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
    di = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
    r = sp.diags(1.0 / np.sqrt(du)) @ x @ sp.diags(1.0 / np.sqrt(di))
    p = np.asarray((r.T @ r).todense())
    np.fill_diagonal(p, 0.0)
    return p.astype(np.float32)


def linear_filter_splits(args: argparse.Namespace) -> None:
    """Validation only: the linear filter on top of the adopted weights (iALS and low-pass terms),
    each split's settings chosen on its carve as ``pipeline_collab`` chooses them."""
    for s in carved_splits(argparse.Namespace(data_dir=args.data_dir, splits=SPLITS)):
        lin = linear_filter(s.fit)
        curve = {w: ndcg(s.fit, s.val, np.asarray(s.fit @ add_lowrank(s.weights.copy(), s.fit, lin, w))) for w in (0.05, 0.1, 0.2, 0.3, 0.5)}
        print(f"{s.name}: {s.line}; with the linear filter:", {w: round(v, 4) for w, v in curve.items()}, flush=True)


def main() -> None:
    args = arguments(__doc__ or "", "probe", ("folds", "infinite-ae", "ials-seeds", "lowpass", "lowpass-splits", "linear-filter"))
    if args.probe in ("lowpass-splits", "linear-filter"):
        (lowpass_splits if args.probe == "lowpass-splits" else linear_filter_splits)(args)
        return
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
    if args.probe == "lowpass":
        lowpass_probe(x, test, stamps, fx, vx, b)
        return
    base = np.asarray(fx @ with_lowrank(fx, b, *CHOSEN_LOWRANK))
    print(f"temporal EASE + low-rank term: validation {ndcg(fx, vx, base):.4f}")
    for ridge in (0.1, 1.0, 3.0, 10.0, 30.0, 100.0):
        inf = ntk_scores(fx, ridge)
        blends = {w: ndcg(fx, vx, finite_z(base, fx) + w * finite_z(inf, fx)) for w in (0.1, 0.2, 0.3, 0.5, 1.0)}
        print(f"∞-AE ridge {ridge}: alone {ndcg(fx, vx, inf):.4f}; blended", {w: round(v, 4) for w, v in blends.items()})


if __name__ == "__main__":
    main()

"""Which users validate: every user's carve at once (the pipeline) or a fifth of the users at a time.

Usage: ``.venv/bin/python benchmarks/experiments/validation_design.py [--splits u1 ...] [--folds 5]``

The pipeline chooses EASE's settings and the low-rank terms on one carve of every user's training
ratings (per user 75/25, seed 7). The matrix those settings are validated on then holds about 0.75²
of the film pairs of the matrix finally served, so they are chosen for sparser data than they are used
on. Carving only one group of users at a time (``--folds`` groups, each validating once, nDCG averaged)
keeps every other user's history whole: ~0.9 of the pairs with 5 groups, at 5 times the fits.

Both designs run the same exhaustive search (EASE's (λ, c) x temporal settings, then the iALS term's
settings and weight, then the low-pass term's on top), as ``collab_probes.folds_probe`` does. The
comparison is nested and uses training data only: each split's training ratings are carved once more
(per user 75/25, seed 11) into a pseudo-train and a pseudo-test; each design chooses on the
pseudo-train, its weights are refitted on the whole pseudo-train and scored on the pseudo-test. The real
test split is not read. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collab_probes import KEYS, Key, ease, mean_val, named_splits, ndcg, splits_parser

from recommendations.ml.collab import carve_validation
from recommendations.ml.lowrank import (
    LOWPASS_WEIGHTS,
    LOWRANK_WEIGHTS,
    add_lowrank,
    ials_item_factors,
    lowpass_grid,
    lowpass_weights,
    lowrank_grid,
    lowrank_weights,
)

Pairs = list[tuple[sp.csr_matrix, sp.csr_matrix]]


@dataclass
class Choice:
    key: Key
    ials: tuple[tuple[int, float, float] | None, float]
    lowpass: tuple[int | None, float]
    val: float

    def weights(self, x: sp.csr_matrix, stamps: sp.csr_matrix) -> np.ndarray:
        b = ease(x, stamps, self.key)
        cfg, w = self.ials
        if cfg is not None:
            add_lowrank(b, x, lowrank_weights(x, ials_item_factors(x, *cfg, seed=7), cfg[1], cfg[2]), w)
        k, w = self.lowpass
        if k is not None:
            add_lowrank(b, x, lowpass_weights(x, k), w)
        return b


def user_folds(x: sp.csr_matrix, groups: int, seed: int = 7) -> Pairs:
    """The pipeline's carve (per user 75/25, ``seed``) applied to one group of users at a time;
    the other users keep their whole rows in the fit part. One group = the pipeline's carve."""
    fx, vx = carve_validation(x, seed=seed)
    if groups == 1:
        return [(fx, vx)]
    group = np.random.default_rng(seed).permutation(x.shape[0]) % groups
    out = []
    for g in range(groups):
        carved = sp.diags((group == g).astype(np.float32))
        whole = sp.diags((group != g).astype(np.float32))
        out.append((sp.csr_matrix(whole @ x + carved @ fx), sp.csr_matrix(carved @ vx)))
    return out


def choose(pairs: Pairs, stamps: sp.csr_matrix) -> Choice:
    curve = {key: mean_val(pairs, [ease(f, stamps, key) for f, _ in pairs]) for key in KEYS}
    key = max(curve, key=curve.__getitem__)
    bases = [ease(f, stamps, key) for f, _ in pairs]
    n = pairs[0][0].shape[1]

    def stage(grid: list, make, weights: tuple[float, ...], best: float) -> tuple[object, float, float]:
        chosen: tuple[object, float] = (None, 0.0)
        for cfg in grid:
            terms = [make(f, cfg) for f, _ in pairs]
            for w in weights[1:]:
                value = mean_val(pairs, [add_lowrank(b.copy(), f, t, w) for (f, _), b, t in zip(pairs, bases, terms, strict=True)])
                if value > best:
                    best, chosen = value, (cfg, w)
        if chosen[0] is not None:
            for (f, _), b in zip(pairs, bases, strict=True):
                add_lowrank(b, f, make(f, chosen[0]), chosen[1])
        return chosen[0], chosen[1], best

    def ials(f: sp.csr_matrix, cfg: tuple[int, float, float]) -> np.ndarray:
        return lowrank_weights(f, ials_item_factors(f, *cfg, seed=7), cfg[1], cfg[2])

    cfg, w_i, val = stage(lowrank_grid(n), ials, LOWRANK_WEIGHTS, curve[key])
    k, w_l, val = stage(lowpass_grid(n), lambda f, k: lowpass_weights(f, k), LOWPASS_WEIGHTS, val)
    return Choice(key, (cfg, w_i), (k, w_l), val)  # type: ignore[arg-type]


def main() -> None:
    parser = splits_parser(__doc__ or "")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    gains = []
    for name, x, _test, stamps in named_splits(argparse.Namespace(data_dir=args.data_dir, filter_by="user")):
        if name not in args.splits:
            continue
        px, ptest = carve_validation(x, seed=11)
        scores = {}
        for groups in (1, args.folds):
            t0 = time.perf_counter()
            choice = choose(user_folds(px, groups), stamps)
            scores[groups] = ndcg(px, ptest, np.asarray(px @ choice.weights(px, stamps)))
            print(
                f"{name}, {groups} group(s): EASE {choice.key}, iALS {choice.ials}, low-pass {choice.lowpass}, "
                f"validation {choice.val:.4f}, pseudo-test {scores[groups]:.4f} [{time.perf_counter() - t0:.0f} s]",
                flush=True,
            )
        gains.append(scores[args.folds] - scores[1])
        print(f"{name}: user groups change pseudo-test by {gains[-1]:+.4f}", flush=True)
    print(f"mean change {np.mean(gains):+.4f}; better on {sum(g > 0 for g in gains)} of {len(gains)} splits")


if __name__ == "__main__":
    main()

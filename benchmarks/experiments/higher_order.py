"""Higher-order EASE (Steck & Liang 2021, "don't go deeper, go higher") on top of the adopted weights.

Usage: ``.venv/bin/python benchmarks/experiments/higher_order.py [--splits u1 ...]``

The user's row gets extra binary inputs, one per selected pair of films (the user rated both). A pair x
film matrix C, fitted by ridge regression on what the adopted weights B (temporal EASE + the iALS and
low-pass terms, settings chosen on the carve as ``collab_probes.pipeline_collab`` chooses them) leave
unexplained, ``X - XB``, adds ``Z C`` to the scores. As in the paper, a pair may not predict its own two
films (each such column's constrained ridge solution, not zeroing afterwards). Pairs: the P most
co-rated in the rows fitted on.

Validation only on the carve, for P, C's ridge and its weight; test is scored only where validation
gains on most splits. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collab_probes import carved_splits, ndcg, pipeline_collab, splits_parser


def top_pairs(x: sp.csr_matrix, n_pairs: int) -> np.ndarray:
    """The ``n_pairs`` most co-rated film pairs (i < j) of ``x``, as an (n_pairs, 2) array."""
    co = (x.T @ x).toarray()
    iu = np.triu_indices(co.shape[0], k=1)
    counts = co[iu]
    keep = np.argsort(-counts, kind="stable")[:n_pairs]
    return np.column_stack([iu[0][keep], iu[1][keep]])


def pair_features(x: sp.csr_matrix, pairs: np.ndarray) -> sp.csr_matrix:
    """Users x pairs: 1 where the user rated both films of the pair."""
    xc = sp.csc_matrix(x, dtype=np.float32)
    return sp.csr_matrix(xc[:, pairs[:, 0]].multiply(xc[:, pairs[:, 1]]))


def fit_pairs(x: sp.csr_matrix, b: np.ndarray, pairs: np.ndarray, ridge: float) -> np.ndarray:
    """C (pairs x films) minimising ``‖X − XB − ZC‖² + ridge‖C‖²`` with ``C[p, i_p] = C[p, j_p] = 0``."""
    z = pair_features(x, pairs)
    gz = (z.T @ z).toarray().astype(np.float64)
    gz[np.diag_indices_from(gz)] += ridge
    p = np.linalg.inv(gz)
    resid = x.toarray() - np.asarray(x @ b)
    c = p @ np.asarray(z.T @ resid)  # unconstrained solution
    # For film j, the pairs holding j are barred: subtract the part of the solution that the
    # constraint removes, P[:, S] P[S, S]⁻¹ c[S, j] (the ridge's Lagrangian correction).
    for j in range(x.shape[1]):
        s = np.flatnonzero((pairs[:, 0] == j) | (pairs[:, 1] == j))
        if s.size:
            c[:, j] -= p[:, s] @ np.linalg.solve(p[np.ix_(s, s)], c[s, j])
            c[s, j] = 0.0
    return c


def scores(x: sp.csr_matrix, b: np.ndarray, pairs: np.ndarray, c: np.ndarray, weight: float) -> np.ndarray:
    return np.asarray(x @ b) + weight * np.asarray(pair_features(x, pairs) @ c)


def main() -> None:
    parser = splits_parser(__doc__ or "")
    parser.add_argument("--pairs", nargs="+", type=int, default=[1000, 3000])
    parser.add_argument("--ridges", nargs="+", type=float, default=[300.0, 1000.0, 3000.0])
    parser.add_argument("--weights", nargs="+", type=float, default=[0.1, 0.25])
    parser.add_argument("--test", action="store_true", help="also score test with each split's validated choice")
    args = parser.parse_args()
    for s in carved_splits(args):
        t0 = time.perf_counter()
        fx, vx, b = s.fit, s.val, s.weights
        base = ndcg(fx, vx, np.asarray(fx @ b))
        best = (base, 0, 0.0, 0.0)
        curve = {}
        for n_pairs in args.pairs:
            pairs = top_pairs(fx, n_pairs)
            for ridge in args.ridges:
                c = fit_pairs(fx, b, pairs, ridge)
                for w in args.weights:
                    v = ndcg(fx, vx, scores(fx, b, pairs, c, w))
                    curve[(n_pairs, ridge, w)] = round(v, 4)
                    if v > best[0]:
                        best = (v, n_pairs, ridge, w)
        print(f"{s.name}: {s.line}; validation {base:.4f}; best {best[0]:.4f} at P {best[1]} ridge {best[2]} weight {best[3]}"
              f" ({best[0] - base:+.4f}) [{time.perf_counter() - t0:.0f} s]", flush=True)
        print("   ", curve, flush=True)
        if args.test and best[1]:
            _, full, _ = pipeline_collab(s.x, s.stamps)
            pairs = top_pairs(s.x, best[1])
            c = fit_pairs(s.x, full, pairs, best[2])
            t_base, t_ho = ndcg(s.x, s.test, np.asarray(s.x @ full)), ndcg(s.x, s.test, scores(s.x, full, pairs, c, best[3]))
            print(f"    test {t_base:.4f} -> {t_ho:.4f} ({t_ho - t_base:+.4f})", flush=True)


if __name__ == "__main__":
    main()

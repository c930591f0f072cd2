"""Would a pruned collaborative matrix make the hybrid's row sum cheap enough? Quality vs cost.

The served hybrid's biggest per-user cost is summing the rated films' rows of the dense EASE
matrix (benchmarks/rank_hybrid.py). Keeping only each row's m largest weights (CSR) would read
m/n of it. This script measures what that costs in quality and saves in time, on ml-latest-small
(or any folder in its layout): ratings split per user 75/25 (Microsoft Recommenders'
``python_stratified_split``, seed 42), EASE fitted on the train part with the site's default for
catalogues over 5,000 films (λ = 400, popularity ridge 1), then per m: test nDCG@10 (seen films
excluded) and the CPU time per user of the row sum (one-row CSR product), against dense.

    .venv/bin/python benchmarks/ease_pruning.py [--data ../shared/data/ml-latest-small] [--keep 250,500,1000,2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as in a web worker

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommendations.ml.collab import fit_ease  # noqa: E402
from recommendations.ml.metrics import per_user_ndcg, python_stratified_split, top_k_fast  # noqa: E402


def prune_rows(b: np.ndarray, keep: int) -> sp.csr_matrix:
    """Each row's ``keep`` largest weights by magnitude, as CSR."""
    idx = np.argpartition(-np.abs(b), keep - 1, axis=1)[:, :keep]
    vals = np.take_along_axis(b, idx, axis=1)
    rows = np.repeat(np.arange(b.shape[0]), keep)
    return sp.csr_matrix((vals.ravel(), (rows, idx.ravel())), shape=b.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ml-latest-small")
    parser.add_argument("--keep", default="250,500,1000,2000", help="weights kept per row")
    args = parser.parse_args()
    raw = np.loadtxt(args.data / "ratings.csv", delimiter=",", skiprows=1, usecols=(0, 1))
    users = np.unique(raw[:, 0], return_inverse=True)[1]
    items = np.unique(raw[:, 1], return_inverse=True)[1]
    shape = (int(users.max()) + 1, int(items.max()) + 1)
    train_mask = python_stratified_split(users, items, ratio=0.75, filter_by="user", seed=42)

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((np.ones(int(mask.sum()), np.float32), (users[mask], items[mask])), shape=shape)

    x, test = part(train_mask), part(~train_mask)
    started = time.perf_counter()
    b = fit_ease(x, 400.0, 1.0)
    print(f"{shape[0]} users x {shape[1]} films, {x.nnz} train / {test.nnz} test ratings; EASE fit {time.perf_counter() - started:.0f} s")
    evaluated = np.flatnonzero(np.diff(test.indptr) > 0)
    seen_rows = np.repeat(np.arange(shape[0]), np.diff(x.indptr))
    one_rows = [x[u] for u in range(shape[0])]

    def measure(weights: np.ndarray | sp.csr_matrix) -> tuple[float, float]:
        scores = x @ weights
        scores = np.asarray(scores.toarray() if sp.issparse(scores) else scores, dtype=np.float64)
        scores[seen_rows, x.indices] = -np.inf
        ndcg = float(per_user_ndcg(top_k_fast(scores[evaluated], 10), test[evaluated], 10).mean())
        t = time.thread_time()
        for row in one_rows:
            out = row @ weights
            if sp.issparse(out):
                out.toarray()
        return ndcg, (time.thread_time() - t) / len(one_rows) * 1e6

    dense_ndcg, dense_us = measure(b)
    print(f"\n{'weights per row':<18}{'share':>8}{'nDCG@10':>10}{'vs dense':>10}{'row sum us':>12}{'vs dense':>10}")
    print(f"{'all (dense)':<18}{1.0:>8.3f}{dense_ndcg:>10.4f}{1.0:>10.3f}{dense_us:>12.0f}{1.0:>10.2f}")
    for keep in (int(k) for k in args.keep.split(",")):
        ndcg, us = measure(prune_rows(b, keep))
        print(f"{keep:<18}{keep / shape[1]:>8.3f}{ndcg:>10.4f}{ndcg / dense_ndcg:>10.3f}{us:>12.0f}{us / dense_us:>10.2f}")


if __name__ == "__main__":
    main()

"""The user's row weighted by how rare each of their films is, at scoring time (not adopted).

Usage: ``.venv/bin/python benchmarks/experiments/input_weights.py [--splits u1 ...]``

EASE scores a user as ``x_u B`` with every rated film weighing 1. A rarely rated film may say more
about a taste than a blockbuster everyone rated, so here each film of the row weighs
``(count_i / mean count)^-γ`` (counts from the rows fitted on), with B the adopted weights (temporal
EASE + the iALS and low-pass terms, chosen on the carve as ``collab_probes.pipeline_collab`` does);
γ = 0 is the pipeline. Validation only on the carve; test is scored only where validation gains on
most splits. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collab_probes import SPLITS, named_splits, ndcg, pipeline_collab

from recommendations.ml.collab import carve_validation
from recommendations.ml.evaluation import DATA_DIR

GAMMAS = (-0.25, -0.1, 0.1, 0.25, 0.5)


def weighted_rows(x: sp.csr_matrix, gamma: float) -> sp.csr_matrix:
    counts = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
    return sp.csr_matrix(x @ sp.diags((counts / counts.mean()) ** -gamma))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    wanted = set(args.splits)
    for name, x, _test, stamps in named_splits(argparse.Namespace(data_dir=args.data_dir, filter_by="user")):
        if name not in wanted:
            continue
        t0 = time.perf_counter()
        fx, vx = carve_validation(x, seed=7)
        _, b, _ = pipeline_collab(x, stamps, on_fit_part=True)
        base = ndcg(fx, vx, np.asarray(fx @ b))
        curve = {g: round(ndcg(fx, vx, np.asarray(weighted_rows(fx, g) @ b)) - base, 4) for g in GAMMAS}
        print(f"{name}: validation {base:.4f}; change by γ {curve} [{time.perf_counter() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()

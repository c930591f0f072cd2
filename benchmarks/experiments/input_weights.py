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

import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from collab_probes import carved_splits, ndcg, splits_parser

GAMMAS = (-0.25, -0.1, 0.1, 0.25, 0.5)


def weighted_rows(x: sp.csr_matrix, gamma: float) -> sp.csr_matrix:
    counts = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
    return sp.csr_matrix(x @ sp.diags((counts / counts.mean()) ** -gamma))


def main() -> None:
    for s in carved_splits(splits_parser(__doc__ or "").parse_args()):
        t0 = time.perf_counter()
        base = ndcg(s.fit, s.val, np.asarray(s.fit @ s.weights))
        curve = {g: round(ndcg(s.fit, s.val, np.asarray(weighted_rows(s.fit, g) @ s.weights)) - base, 4) for g in GAMMAS}
        print(f"{s.name}: validation {base:.4f}; change by γ {curve} [{time.perf_counter() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()

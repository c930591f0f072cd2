"""Each film's column of the weights scaled by how often it is rated (not adopted).

Usage: ``.venv/bin/python benchmarks/experiments/output_weights.py [--splits u1 ...]``

The mirror of ``input_weights.py``: there the user's row was weighted by film rarity; here each
film's score is, ``score_uj · (count_j / mean count)^β``, on the adopted weights (temporal EASE +
the iALS and low-pass terms, chosen on the carve as ``collab_probes.pipeline_collab`` does).
β = 0 is the pipeline; β < 0 lifts rare films, β > 0 popular ones. RLAE (Moon et al. 2023, a
bound on EASE's diagonal) changes only such a per-film scale of EASE's columns, so this also
bounds what it could add here. Validation only on the carve; test is scored only where
validation gains on most splits. Figures: ``docs/quality-experiments.md``.
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

BETAS = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)


def column_scale(x: sp.csr_matrix, beta: float) -> np.ndarray:
    counts = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
    return ((counts / counts.mean()) ** beta).astype(np.float32)


def main() -> None:
    for s in carved_splits(splits_parser(__doc__ or "").parse_args()):
        t0 = time.perf_counter()
        scores = np.asarray(s.fit @ s.weights)
        base = ndcg(s.fit, s.val, scores)
        curve = {b: round(ndcg(s.fit, s.val, scores * column_scale(s.fit, b)) - base, 4) for b in BETAS}
        print(f"{s.name}: validation {base:.4f}; change by β {curve} [{time.perf_counter() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()

"""What the experiment scripts start from: their command line, ML-100K split by the protocol, and temporal EASE.

Imported by the scripts beside it (a script's own folder is on ``sys.path``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommendations.ml.collab import binarize, fit_ease, mask_stamps, stamp_matrix, temporal_cooccurrence
from recommendations.ml.evaluation import DATA_DIR, Ml100k, load_ml100k, make_split


def arguments(doc: str, option: str, choices: tuple[str, ...]) -> argparse.Namespace:
    """``--filter-by``, ``--data-dir`` and the script's own ``--<option>`` (first choice the default)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filter-by", choices=("user", "item"), default="user")
    parser.add_argument(f"--{option}", choices=choices, default=choices[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    return parser.parse_args()


def load_split(args: argparse.Namespace) -> tuple[Ml100k, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """The data, the binary train and test matrices (split seed 42), and the rating times."""
    data = load_ml100k(args.data_dir)
    train, test, _ = make_split(data, args.filter_by, 42)
    return data, binarize(train), test, stamp_matrix(data.users, data.items, data.timestamps, train.shape)


def temporal_ease_weights(x: sp.csr_matrix, stamps: sp.csr_matrix, params: dict[str, float]) -> np.ndarray:
    """EASE with the temporal term counted on ``x``'s own ratings, for ``select_ease_params``-style ``params``."""
    w, alpha = int(params["temporal_window"]), params["temporal_weight"]
    term = (temporal_cooccurrence(mask_stamps(stamps, x), w), alpha) if alpha > 0 else None
    return fit_ease(x, params["lam"], params["pop_reg"], None, 0.0, term)

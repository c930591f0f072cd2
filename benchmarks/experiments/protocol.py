"""What the experiment scripts start from: their command line and ML-100K split by the protocol.

Imported by the scripts beside it (a script's own folder is on ``sys.path``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scipy.sparse as sp

from recommendations.ml.collab import binarize, stamp_matrix
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

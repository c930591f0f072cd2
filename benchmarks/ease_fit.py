"""Training cost of the collaborative model: wall time and peak memory, this checkout
against another (e.g. the commit before a change), in alternating child processes.

Usage:
    git worktree add /tmp/base <commit>
    .venv/bin/python benchmarks/ease_fit.py --baseline /tmp/base [--steps ease,hybrid] [--repeats 2]

On ml-latest-small (all 9,742 films, 610 users, rating times): ``ease`` is one
``fit_ease`` (Gram, inverse, weights); ``hybrid`` is ``HybridModel.fit`` with the temporal
term and a content prior, i.e. what the Celery chain and ``recommend_offline`` run. The
content prior uses random unit vectors: the cost does not depend on their values, and the
benchmark then needs no encoder. Peak RSS is the child's ``ru_maxrss``; each child loads
the data itself, so the ratio of peaks includes that shared base.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data/ml-latest-small")

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, scipy.sparse as sp
from recommendations.ml.collab import fit_ease, stamp_matrix
from recommendations.ml.hybrid import HybridModel

raw = np.genfromtxt(sys.argv[2] + "/ratings.csv", delimiter=",", skip_header=1)
users = np.unique(raw[:, 0], return_inverse=True)[1]
items = np.unique(raw[:, 1], return_inverse=True)[1]
shape = (users.max() + 1, items.max() + 1)
x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
if sys.argv[3] == "ease":
    fit_ease(x, 400.0, 1.0)
else:
    stamps = stamp_matrix(users, items, raw[:, 3], shape)
    vectors = np.random.default_rng(0).normal(size=(shape[1], 384)).astype(np.float32)
    HybridModel(seed=7, cold_repeats=1).fit(x, vectors, timestamps=stamps)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "base_mb": base}))
"""


def run(repo: Path, step: str, data: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(repo), str(data), step], check=True, capture_output=True, text=True, cwd=repo
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout to compare with")
    parser.add_argument("--steps", default="ease,hybrid")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    for step in args.steps.split(","):
        results: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
        for _ in range(args.repeats):
            for name, repo in (("baseline", args.baseline), ("this", ROOT)):
                results[name].append(run(repo, step, args.data))
                r = results[name][-1]
                print(f"{step:7s} {name:9s} {r['seconds']:8.1f} s  peak {r['peak_mb']:7.0f} MB (data loaded: {r['base_mb']:.0f} MB)", flush=True)
        best = {name: min(rs, key=lambda r: r["seconds"]) for name, rs in results.items()}
        peak = {name: max(r["peak_mb"] for r in rs) for name, rs in results.items()}
        print(
            f"{step}: this/baseline time {best['this']['seconds'] / best['baseline']['seconds']:.2f}x "
            f"(best of {args.repeats}), peak RSS {peak['this']:.0f} vs {peak['baseline']:.0f} MB "
            f"({peak['this'] / peak['baseline']:.2f}x)"
        )


if __name__ == "__main__":
    main()

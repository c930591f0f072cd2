"""``recommend_offline`` on splits it was never tuned on: ML-100K's own u1–u5, ua, ub.

Usage: ``.venv/bin/python benchmarks/unseen_splits.py [--splits u1 ua] [--budget-seconds 600]``

GroupLens ships these splits with ML-100K (u1–u5: five disjoint 20 % test sets of all ratings;
ua/ub: ten test ratings per user), so they differ from the Microsoft Recommenders protocol the
project reports in ``docs/quality.md``. For each split the script writes the command's input
files under ``var/unseen/`` (titles and genres only: no overviews or credits), runs
``manage.py recommend_offline`` in a child process exactly as an outside evaluator would, and
scores its CSV against the test file. Validated EASE and popularity, fitted on the same training
file in this process, are the references. Metrics: binary nDCG@10, P@10, R@10, MAP over the
test users who have training ratings (``recommendations.ml.metrics``).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommendations.ml.collab import fit_collab  # noqa: E402
from recommendations.ml.evaluation import DATA_DIR  # noqa: E402
from recommendations.ml.hybrid import popularity_scores  # noqa: E402
from recommendations.ml.metrics import RankingMetrics, ranking_metrics, top_k  # noqa: E402

OUT = ROOT / "var" / "unseen"


def read_split(path: Path) -> np.ndarray:
    """(user, item, rating, timestamp) rows of a tab-separated ML-100K file."""
    return np.loadtxt(path, dtype=np.int64, ndmin=2)


def write_inputs(data_dir: Path, name: str, out: Path) -> tuple[Path, Path]:
    """The command's ``--ratings`` and ``--movies`` files for split ``name``."""
    out.mkdir(parents=True, exist_ok=True)
    genres = [line.split("|")[0] for line in (data_dir / "u.genre").read_text(encoding="latin-1").splitlines() if line]
    movies = out / "movies.csv"
    with movies.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["itemID", "title", "genres"])
        for line in (data_dir / "u.item").read_text(encoding="latin-1").splitlines():
            p = line.split("|")
            w.writerow([p[0], p[1], "|".join(g for g, flag in zip(genres, p[5:24], strict=True) if flag == "1" and g != "unknown")])
    ratings = out / f"{name}_train.csv"
    with ratings.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["userID", "itemID", "rating", "timestamp"])
        w.writerows(read_split(data_dir / f"{name}.base").tolist())
    return ratings, movies


def matrix(rows: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows[:, 0] - 1, rows[:, 1] - 1)), shape=shape)
    m.data[:] = 1.0  # a repeated (user, film) pair counts once
    return m


def ranked_from_csv(path: Path, shape: tuple[int, int], k: int) -> np.ndarray:
    """The command's top k per user as film indices, best first (-1 where it gave fewer)."""
    ranked = np.full((shape[0], k), -1, dtype=np.int64)
    rows: dict[int, list[tuple[float, int]]] = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(int(r["userID"]) - 1, []).append((-float(r["prediction"]), int(r["itemID"]) - 1))
    for u, recs in rows.items():
        items = [i for _, i in sorted(recs)][:k]
        ranked[u, : len(items)] = items
    return ranked


def run_split(data_dir: Path, name: str, budget: float, k: int) -> dict[str, RankingMetrics]:
    out = OUT / name
    ratings, movies = write_inputs(data_dir, name, out)
    train_rows, test_rows = read_split(data_dir / f"{name}.base"), read_split(data_dir / f"{name}.test")
    n_users = int(max(train_rows[:, 0].max(), test_rows[:, 0].max()))
    n_items = sum(1 for _ in (data_dir / "u.item").read_text(encoding="latin-1").splitlines())
    shape = (n_users, n_items)
    train, test = matrix(train_rows, shape), matrix(test_rows, shape)
    users = np.diff(train.indptr) > 0  # test users the command can know

    recs = out / "recs.csv"
    t0 = time.perf_counter()
    cmd = [sys.executable, "manage.py", "recommend_offline", "--ratings", str(ratings), "--movies", str(movies),
           "--k", str(k), "--out", str(recs), "--budget-seconds", str(budget)]
    with (out / "recommend_offline.log").open("w") as log:  # its progress, TensorFlow's chatter
        subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "DJANGO_DEBUG": "1"}, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    ranked = ranked_from_csv(recs, shape, k)
    seen = np.asarray(train[np.repeat(np.arange(n_users), k), np.maximum(ranked.ravel(), 0)]).reshape(n_users, k)
    leaks = int(np.asarray((seen > 0) & (ranked >= 0)).sum())
    print(f"{name}: recommend_offline {seconds:.0f} s, {leaks} training films recommended")

    ease = fit_collab(train, n_items).scores(train)
    pop = np.tile(popularity_scores(train), (n_users, 1))
    return {
        "popularity": ranking_metrics(top_k(pop, k, train), test, k, users),
        "EASE (validated)": ranking_metrics(top_k(ease, k, train), test, k, users),
        "recommend_offline": ranking_metrics(ranked, test, k, users),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=["u1"], choices=[*(f"u{i}" for i in range(1, 6)), "ua", "ub"])
    parser.add_argument("--budget-seconds", type=float, default=600.0)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR / "ml-100k")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| split | model | nDCG@10 | P@10 | R@10 | MAP | users |\n|---|---|---|---|---|---|---|")
    for name in args.splits:
        for model, m in run_split(args.data_dir, name, args.budget_seconds, 10).items():
            print(f"| {name} | {model} | {m.ndcg:.4f} | {m.precision:.4f} | {m.recall:.4f} | {m.map:.4f} | {m.n_users} |", flush=True)


if __name__ == "__main__":
    main()

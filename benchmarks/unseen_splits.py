"""``recommend_offline`` on splits it was never tuned on: ML-100K's own u1–u5, ua, ub.

Usage: ``.venv/bin/python benchmarks/unseen_splits.py [--splits u1 ua ml-latest-small] [--budget-seconds S]``

GroupLens ships these splits with ML-100K (u1–u5: five disjoint 20 % test sets of all ratings;
ua/ub: ten test ratings per user), so they differ from the Microsoft Recommenders protocol the
project reports in ``docs/quality.md``. For each split the script writes the command's input
files under ``var/unseen/`` (titles and genres only: no overviews or credits), runs
``manage.py recommend_offline`` in a child process exactly as an outside evaluator would, and
scores its CSV against the test file. Validated EASE and popularity, fitted on the same training
file in this process, are the references. Metrics: binary nDCG@10, P@10, R@10, MAP over the
test users who have training ratings (``recommendations.ml.metrics``).

``ml-latest-small`` is split 75/25 per user as the protocol splits ML-100K (seed 42), with the
TMDB overviews and credits in the film file, and runs with the command's default budget: the
20-minute case of the issue, scored. Above 5,000 films, "EASE (validated)" is the large-catalogue
default (λ 400, c 1), as the grid is not searched there; EASE with the whole (λ, c) grid validated
on a carve (nine inverses) is added as a further reference.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommendations.ml.collab import LAMBDA_GRID, POP_REG_GRID, default_grid, fit_collab, fit_ease, select_ease_params  # noqa: E402
from recommendations.ml.evaluation import DATA_DIR  # noqa: E402
from recommendations.ml.hybrid import popularity_scores  # noqa: E402
from recommendations.ml.metrics import RankingMetrics, python_stratified_split, ranking_metrics, top_k  # noqa: E402

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


@dataclass
class Inputs:
    """One split: the command's input files, and train/test matrices in dense (user, film) indices."""

    ratings: Path
    movies: Path
    train: sp.csr_matrix
    test: sp.csr_matrix
    user_of: dict[int, int]  # file id -> row
    item_of: dict[int, int]  # file id -> column


def dense_inputs(ratings: Path, movies: Path, train_rows: np.ndarray, test_rows: np.ndarray, item_ids: np.ndarray) -> Inputs:
    user_ids = np.unique(np.concatenate([train_rows[:, 0], test_rows[:, 0]]))
    user_of = {int(u): i for i, u in enumerate(user_ids)}
    item_of = {int(m): i for i, m in enumerate(np.unique(item_ids))}

    def matrix(rows: np.ndarray) -> sp.csr_matrix:
        r = np.searchsorted(user_ids, rows[:, 0])
        c = np.array([item_of[int(m)] for m in rows[:, 1]], dtype=np.int64)
        m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (r, c)), shape=(len(user_ids), len(item_of)))
        m.data[:] = 1.0  # a repeated (user, film) pair counts once
        return m

    return Inputs(ratings, movies, matrix(train_rows), matrix(test_rows), user_of, item_of)


def ml100k_inputs(data_dir: Path, name: str) -> Inputs:
    ratings, movies = write_inputs(data_dir, name, OUT / name)
    n_items = sum(1 for _ in (data_dir / "u.item").read_text(encoding="latin-1").splitlines())
    return dense_inputs(ratings, movies, read_split(data_dir / f"{name}.base"), read_split(data_dir / f"{name}.test"), np.arange(1, n_items + 1))


def ml_small_inputs(shared: Path) -> Inputs:
    """ml-latest-small split 75/25 per user (the protocol's ``python_stratified_split``, seed 42), with
    the TMDB overviews and credits in the film file, as a site importing it would have them."""
    out = OUT / "ml-latest-small"
    out.mkdir(parents=True, exist_ok=True)
    with (shared / "ml-latest-small" / "ratings.csv").open(newline="") as f:
        rows = np.array([[int(r["userId"]), int(r["movieId"]), float(r["rating"]) * 2, int(r["timestamp"])] for r in csv.DictReader(f)], dtype=np.int64)
    mask = python_stratified_split(rows[:, 0], rows[:, 1], ratio=0.75, filter_by="user", seed=42)
    ratings = out / "train.csv"
    with ratings.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["userID", "itemID", "rating", "timestamp"])
        w.writerows([u, m, r / 2, s] for u, m, r, s in rows[mask].tolist())
    def by_id(path: Path, *cols: str) -> dict[str, dict[str, str]]:
        with path.open(newline="", encoding="utf-8") as f:
            return {r["movieId"]: {c: r.get(c) or "" for c in cols} for r in csv.DictReader(f)}

    overviews = by_id(shared / "overviews" / "movies_enriched.csv", "overview")
    credits = by_id(shared / "overviews" / "directors_actors.csv", "directors", "actors")
    movies = out / "movies.csv"
    item_ids = []
    with (shared / "ml-latest-small" / "movies.csv").open(newline="", encoding="utf-8") as src, movies.open("w", newline="", encoding="utf-8") as dst:
        w = csv.writer(dst)
        w.writerow(["itemID", "title", "genres", "overview", "directors", "actors"])
        for r in csv.DictReader(src):
            extra = {**overviews.get(r["movieId"], {}), **credits.get(r["movieId"], {})}
            w.writerow([r["movieId"], r["title"], r["genres"], extra.get("overview", ""), extra.get("directors", ""), extra.get("actors", "")])
            item_ids.append(int(r["movieId"]))
    return dense_inputs(ratings, movies, rows[mask], rows[~mask], np.array(item_ids))


def ranked_from_csv(path: Path, inputs: Inputs, k: int) -> np.ndarray:
    """The command's top k per user as film indices, best first (-1 where it gave fewer)."""
    ranked = np.full((inputs.train.shape[0], k), -1, dtype=np.int64)
    rows: dict[int, list[tuple[float, int]]] = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(inputs.user_of[int(r["userID"])], []).append((-float(r["prediction"]), inputs.item_of[int(r["itemID"])]))
    for u, recs in rows.items():
        items = [i for _, i in sorted(recs)][:k]
        ranked[u, : len(items)] = items
    return ranked


def run_split(name: str, inputs: Inputs, budget: float | None, k: int) -> dict[str, RankingMetrics]:
    train, test = inputs.train, inputs.test
    n_users, n_items = train.shape
    users = np.diff(train.indptr) > 0  # test users the command can know
    out = inputs.ratings.parent
    recs = out / f"{name}_recs.csv"
    t0 = time.perf_counter()
    cmd = [sys.executable, "manage.py", "recommend_offline", "--ratings", str(inputs.ratings), "--movies", str(inputs.movies),
           "--k", str(k), "--out", str(recs)] + (["--budget-seconds", str(budget)] if budget else [])
    with (out / f"{name}_recommend_offline.log").open("w") as log:  # its progress, TensorFlow's chatter
        subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "DJANGO_DEBUG": "1"}, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    ranked = ranked_from_csv(recs, inputs, k)
    seen = np.asarray(train[np.repeat(np.arange(n_users), k), np.maximum(ranked.ravel(), 0)]).reshape(n_users, k)
    leaks = int(np.asarray((seen > 0) & (ranked >= 0)).sum())
    print(f"{name}: recommend_offline {seconds:.0f} s, {leaks} training films recommended", flush=True)

    ease = fit_collab(train, n_items).scores(train)
    pop = np.tile(popularity_scores(train), (n_users, 1))
    out = {
        "popularity": ranking_metrics(top_k(pop, k, train), test, k, users),
        "EASE (validated)": ranking_metrics(top_k(ease, k, train), test, k, users),
    }
    if len(default_grid(n_items)) == 1:  # a large catalogue: fit_collab took its one default (λ, c)
        chosen, _ = select_ease_params(train, [(lam, c) for lam in LAMBDA_GRID for c in POP_REG_GRID])
        b = fit_ease(train, chosen["lam"], chosen["pop_reg"])
        label = f"EASE (whole (λ, c) grid validated: {chosen['lam']:g}, {chosen['pop_reg']:g})"
        out[label] = ranking_metrics(top_k(np.asarray(train @ b), k, train), test, k, users)
    out["recommend_offline"] = ranking_metrics(ranked, test, k, users)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=["u1"], choices=[*(f"u{i}" for i in range(1, 6)), "ua", "ub", "ml-latest-small"])
    parser.add_argument("--budget-seconds", type=float, help="default: 600 on ML-100K, the command's own on ml-latest-small")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("| split | model | nDCG@10 | P@10 | R@10 | MAP | users |\n|---|---|---|---|---|---|---|")
    for name in args.splits:
        if name == "ml-latest-small":
            inputs, budget = ml_small_inputs(args.data_dir), args.budget_seconds
        else:
            inputs, budget = ml100k_inputs(args.data_dir / "ml-100k", name), args.budget_seconds or 600.0
        for model, m in run_split(name, inputs, budget, 10).items():
            print(f"| {name} | {model} | {m.ndcg:.4f} | {m.precision:.4f} | {m.recall:.4f} | {m.map:.4f} | {m.n_users} |", flush=True)


if __name__ == "__main__":
    main()

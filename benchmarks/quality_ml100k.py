"""Offline quality table on MovieLens 100K (Microsoft Recommenders' protocol).

Usage: ``.venv/bin/python benchmarks/quality_ml100k.py [--filter-by user|item|both] [--no-content]``

Reads /work/shared/data at run time (never copied into the repo). Film embeddings (MiniLM,
from ``recommendations.ml.encoder``) are cached under var/cache/, keyed by a hash of the
film texts; the first run embeds 1,682 films (about 30 s plus model load).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommendations.ml.evaluation import (  # noqa: E402
    BUCKETS,
    DATA_DIR,
    EvalResult,
    evaluate_models,
    film_docs_ml100k,
    load_ml100k,
    make_split,
    simulate_cold_users,
)

CACHE = ROOT / "var" / "cache"


def item_vectors(data_dir: Path) -> tuple[np.ndarray, float]:
    from recommendations.ml.text import film_text

    data = load_ml100k(data_dir)
    docs, coverage = film_docs_ml100k(data, data_dir)
    texts = [film_text(d) for d in docs]
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    path = CACHE / f"ml100k_minilm_{key}.npy"
    if path.exists():
        return np.load(path), coverage
    from recommendations.ml.encoder import embed_texts  # lazy: loads TensorFlow

    vectors = embed_texts(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, coverage


def print_result(title: str, res: EvalResult) -> None:
    print(f"\n## {title}\n")
    print("| model | nDCG@10 | P@10 | R@10 | MAP | users | fit+score s |")
    print("|---|---|---|---|---|---|---|")
    for name, m in res.overall.items():
        print(
            f"| {name} | {m.ndcg:.4f} | {m.precision:.4f} | {m.recall:.4f} | {m.map:.4f} | {m.n_users} "
            f"| {res.seconds.get(name, 0):.1f} |"
        )
    print("\nnDCG@10 per activity bucket (training interactions; users in brackets):\n")
    print("| model | " + " | ".join(BUCKETS) + " |")
    print("|---|" + "---|" * len(BUCKETS))
    for name, per in res.buckets.items():
        cells = [f"{per[b].ndcg:.4f} ({per[b].n_users})" if per[b].n_users else "–" for b in BUCKETS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for key, value in res.info.items():
        print(f"\n{key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--filter-by", choices=("user", "item", "both"), default="both")
    parser.add_argument("--no-content", action="store_true", help="skip MiniLM embeddings")
    parser.add_argument("--cold-fraction", type=float, default=0.3)
    parser.add_argument("--cold-seeds", type=int, default=3, help="cold-start simulations to run")
    args = parser.parse_args()
    if not (args.data_dir / "ml-100k" / "u.data").exists():
        sys.exit(f"ml-100k not found under {args.data_dir}")

    t0 = time.perf_counter()
    data = load_ml100k(args.data_dir)
    vectors = None
    if not args.no_content:
        vectors, coverage = item_vectors(args.data_dir)
        print(f"TMDB overview coverage of ml-100k films (title+year match): {coverage:.1%}")
    models = ("popularity", "ease300", "ease", "content", "hybrid")
    for fb in ("user", "item") if args.filter_by == "both" else (args.filter_by,):
        train, test, _ = make_split(data, filter_by=fb)
        print_result(
            f"python_stratified_split(filter_by={fb!r}): {train.nnz} train / {test.nnz} test",
            evaluate_models(train, test, vectors, models=models),
        )
        for seed in range(args.cold_seeds):
            cold_train, chosen = simulate_cold_users(train, fraction=args.cold_fraction, seed=seed)
            print_result(
                f"cold-start simulation {seed} on filter_by={fb!r}: {chosen.size} random users keep 1–5 "
                "or 6–20 training ratings (test unchanged)",
                evaluate_models(cold_train, test, vectors, models=models),
            )
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

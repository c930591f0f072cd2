"""Throughput of Encoder.embed (length-bucketed) against the bare TF forward pass.

All three figures come from one process on the SAME texts:

* bare: the traced forward pass alone on batches in input order, each padded to
  its own longest text; tokenising and padding are done before the clock starts;
* bucketed: ``Encoder.embed`` end to end (tokenising, sorting, padding, forward,
  restoring order);
* unbucketed: ``Encoder.embed(bucket=False)``, i.e. the bare batching plus the
  tokenising overhead.

Texts are built with ``film_text`` from the shared TMDB overviews when present
(read in place, never copied), else synthetic texts of varied length.

    .venv/bin/python benchmarks/embed.py --n 1024
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommendations.ml.encoder import Encoder  # noqa: E402
from recommendations.ml.text import FilmDoc, film_text  # noqa: E402

SHARED_DATA = Path(os.environ.get("MOVIEREC_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _credits(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["movieId"]: (row["directors"].split("|"), row["actors"].split("|")) for row in csv.DictReader(fh)}


def real_texts(n: int, seed: int) -> list[str] | None:
    """Film texts from movies_enriched.csv (+ directors/actors), sampled with a seed."""
    overviews = SHARED_DATA / "overviews" / "movies_enriched.csv"
    if not overviews.exists():
        return None
    credits = _credits(SHARED_DATA / "overviews" / "directors_actors.csv")
    with overviews.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    docs = []
    for row in rows:
        directors, cast = credits.get(row["movieId"], ([], []))
        docs.append(
            film_text(
                FilmDoc(
                    title=row["title"],
                    genres=row["genres"].split("|"),
                    directors=directors,
                    cast=cast,
                    overview=row["overview"],
                )
            )
        )
    rng = random.Random(seed)
    return [docs[rng.randrange(len(docs))] for _ in range(n)]


def synthetic_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["love", "war", "city", "night", "family", "secret", "journey", "murder", "dream", "ship"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 120))) for _ in range(n)]


def padding_efficiency(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> float:
    """Real tokens / padded tokens when batching ``order`` in chunks."""
    padded = sum(
        lengths[order[i : i + batch_size]].max() * len(order[i : i + batch_size]) for i in range(0, len(order), batch_size)
    )
    return float(lengths.sum() / padded)


def time_bare(encoder: Encoder, texts: list[str], batch_size: int, max_length: int) -> tuple[float, np.ndarray]:
    ids = encoder.tokenize(texts, max_length)
    batches = [encoder.pad(ids[i : i + batch_size]) for i in range(0, len(ids), batch_size)]
    start = time.perf_counter()
    out = np.vstack([encoder.forward_arrays(*batch) for batch in batches])
    return time.perf_counter() - start, out


def time_embed(encoder: Encoder, texts: list[str], batch_size: int, max_length: int, bucket: bool) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = encoder.embed(texts, batch_size=batch_size, max_length=max_length, bucket=bucket)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="number of texts")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1, help="repeats of all three modes; best kept")
    parser.add_argument("--synthetic", action="store_true", help="ignore the shared data")
    args = parser.parse_args()

    texts = None if args.synthetic else real_texts(args.n, args.seed)
    source = "movies_enriched.csv" if texts else "synthetic"
    texts = texts or synthetic_texts(args.n, args.seed)

    t0 = time.perf_counter()
    encoder = Encoder.load()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    encoder.embed(texts[: 2 * args.batch_size], batch_size=args.batch_size)  # trace
    warm_s = time.perf_counter() - t0

    lengths = np.array([len(x) for x in encoder.tokenize(texts, args.max_length)])
    # Rotating rounds, best kept per mode: a shared machine's load comes and goes.
    bare_s = bucket_s = plain_s = float("inf")
    for _ in range(args.rounds):
        seconds, bare = time_bare(encoder, texts, args.batch_size, args.max_length)
        bare_s = min(bare_s, seconds)
        seconds, bucketed = time_embed(encoder, texts, args.batch_size, args.max_length, True)
        bucket_s = min(bucket_s, seconds)
        seconds, _ = time_embed(encoder, texts, args.batch_size, args.max_length, False)
        plain_s = min(plain_s, seconds)
    n = len(texts)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"texts: {n} from {source}, {args.rounds} round(s); tokens mean {lengths.mean():.1f}, max {lengths.max()}")
    print(f"batch {args.batch_size}, max_length {args.max_length}; load {load_s:.1f} s, first calls (trace) {warm_s:.1f} s")
    eff_in = padding_efficiency(lengths, np.arange(n), args.batch_size)
    eff_sorted = padding_efficiency(lengths, np.argsort(lengths, kind="stable"), args.batch_size)
    print(f"padding efficiency: input order {eff_in:.2f}, bucketed {eff_sorted:.2f}")
    print(f"bare forward, input order : {n / bare_s:7.1f} films/s ({bare_s:.1f} s)")
    print(f"embed, bucketed           : {n / bucket_s:7.1f} films/s ({bucket_s:.1f} s)")
    print(f"embed, unbucketed         : {n / plain_s:7.1f} films/s ({plain_s:.1f} s)")
    print(f"ratio bucketed / bare     : {bare_s / bucket_s:.2f}x")
    print(f"ratio bucketed / unbucketed: {plain_s / bucket_s:.2f}x")
    print(f"max |bucketed - bare|     : {float(np.abs(bucketed - bare).max()):.2e}")
    print(f"peak RSS                  : {peak_mb:.0f} MB")
    print(f"load average              : {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

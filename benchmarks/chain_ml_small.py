"""The retraining chain on ml-latest-small, in-process: wall time per stage and metrics before/after.

Usage:
    .venv/bin/python benchmarks/chain_ml_small.py [--db var/db.sqlite3] [--in-place]
        [--max-pairs N] [--epochs N] [--max-seconds S] [--batch-size N] [--max-length N] [--max-steps N]

The database must hold ml-latest-small (``manage.py import_movielens``). By default it is
copied (SQLite backup API) into a temporary MOVIEREC_VAR_DIR so the benchmark's versions and
artifacts never touch the source; ``--in-place`` uses it as it is. Without an active version
the base encoder's embeddings are made and promoted first ("before"), timed separately.
The chain runs the same stage functions as the Celery tasks, with the settings budget unless
overridden, and ends by promoting or rejecting the candidate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def copy_db(source: Path, var: Path) -> Path:
    """The database, plus the active version's artifacts so the copy can serve and be compared with."""
    target = var / "db.sqlite3"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        row = dst.execute("SELECT version_id FROM recommendations_activemodel WHERE id = 1").fetchone()
    artifacts = (
        Path(os.environ.get("DJANGO_MEDIA_ROOT", source.parent / "media")) / "models" / f"v{row[0]}" if row and row[0] else None
    )
    if artifacts is not None and artifacts.is_dir():
        shutil.copytree(artifacts, var / "media" / "models" / artifacts.name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "db.sqlite3")
    parser.add_argument("--in-place", action="store_true", help="use --db itself (its artifacts go to its var dir)")
    for name, kind in (
        ("max-pairs", int),
        ("epochs", int),
        ("max-seconds", float),
        ("batch-size", int),
        ("max-length", int),
        ("max-steps", int),
    ):
        parser.add_argument(f"--{name}", type=kind)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    if args.in_place:
        os.environ["SQLITE_PATH"] = str(args.db.resolve())
    else:
        var = Path(tempfile.mkdtemp(prefix="movierec-chain-"))
        os.environ.update(MOVIEREC_VAR_DIR=str(var), SQLITE_PATH=str(copy_db(args.db, var)), DJANGO_MEDIA_ROOT=str(var / "media"))
    import django

    django.setup()
    from django.conf import settings

    from catalog.models import Movie, Rating
    from recommendations import services, store, training

    films, ratings = Movie.objects.count(), Rating.objects.count()
    print(f"database {settings.DATABASES['default']['NAME']}: {films} films, {ratings} ratings")
    if ratings == 0:
        sys.exit("no ratings: import ml-latest-small first (manage.py import_movielens)")
    timings: dict[str, float] = {}

    base = services.active_version()
    if base is None:
        # The base encoder's embeddings, promoted as the version to beat (no collaborative artifact:
        # evaluation fits its own on the train split for both versions).
        started = time.perf_counter()
        base = services.model_version_create(status="training")
        services.embed_catalogue(base, progress=lambda d, t: print(f"\r  base embeddings {d}/{t}", end="", flush=True))
        print()
        base = services.model_version_promote(base, reason="base model (benchmark)")
        timings["base embeddings (before the chain)"] = time.perf_counter() - started
    serving_before = store.active_bundle().version_id

    overrides = {k.replace("-", "_"): v for k, v in vars(args).items() if k not in ("db", "in_place") and v is not None}
    version = training.start_version(reason="benchmark", budget=overrides)
    print(f"candidate v{version.pk} (parent v{base.pk}), budget {json.dumps(version.data_counts['budget'])}")
    stage_times: dict[str, float] = {}
    started = time.perf_counter()
    version = training.run_chain_inline(version.pk, timings=stage_times)
    chain_seconds = time.perf_counter() - started
    time.sleep(store.POLL_SECONDS + 0.1)
    serving_after = store.active_bundle().version_id

    print("\nwall time per stage")
    for name, seconds in {**timings, **stage_times, "chain total": chain_seconds}.items():
        print(f"  {name:<36} {seconds:8.1f} s")
    m = version.metrics
    counts = version.data_counts
    print(
        f"\ndata: {counts.get('ratings')} ratings, {counts.get('train_ratings')} train / {counts.get('heldout_ratings')} held out, "
        f"{counts.get('eval_users')} users evaluated; pairs {counts.get('pairs')} (co-liked {counts.get('co_liked')}, "
        f"next-liked {counts.get('next_liked')}), validation pairs {counts.get('validation_pairs')}"
    )
    ft = m.get("finetune", {})
    if ft:
        print(
            f"fine-tune: {ft['steps']} steps in {ft['seconds']} s ({ft['stopped']}); loss first/last step "
            f"{version.loss_curve[0]:.3f}/{version.loss_curve[-1]:.3f}; pair loss before -> after: "
            + ", ".join(f"{k} {ft['loss_before'][k]:.3f} -> {ft['loss_after'][k]:.3f}" for k in ft["loss_before"])
        )
    baseline = m.get("baseline") or {}
    print(f"\nheld-out metrics (k=10), gate = {m.get('scorer')} nDCG@10, tolerance {m.get('tolerance')}")
    print(f"  {'':<18} {'before v' + str(baseline.get('version', '-')):>12} {'after v' + str(version.pk):>12}")
    for scorer in ("hybrid", "content"):
        for key in ("ndcg@10", "recall@10"):
            before = (baseline.get(scorer) or {}).get(key)
            after = (m.get(scorer) or {}).get(key)
            print(
                f"  {scorer + ' ' + key:<18} {before if before is not None else float('nan'):12.4f} {after if after is not None else float('nan'):12.4f}"
            )
    print(f"\ndecision: {version.status} — {version.reason}")
    print(f"serving: v{serving_before} before, v{serving_after} after (no restart)")


if __name__ == "__main__":
    main()

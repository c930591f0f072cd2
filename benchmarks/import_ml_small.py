"""Time the full ml-latest-small import (with overviews and credits) into a fresh SQLite DB.

Usage: .venv/bin/python benchmarks/import_ml_small.py [--data ../shared/data]
Prints the first-run time, the idempotent rerun time and the 60 s goal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="movierec-bench-")
    os.environ.update(DJANGO_SETTINGS_MODULE="movierec.settings", DJANGO_DEBUG="1", MOVIEREC_VAR_DIR=var)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    folder = args.data / "ml-latest-small"
    extra = [
        "--overviews",
        str(args.data / "overviews" / "movies_enriched.csv"),
        "--credits",
        str(args.data / "overviews" / "directors_actors.csv"),
    ]
    timings = []
    for label in ("first import", "rerun (no changes)"):
        start = time.perf_counter()
        call_command("import_movielens", str(folder), *extra, "--no-progress")
        timings.append((label, time.perf_counter() - start))
    for label, seconds in timings:
        print(f"{label:22s} {seconds:6.1f} s")
    print(f"goal ≤ 60 s: {'met' if timings[0][1] <= 60 else 'MISSED'} ({timings[0][1] / 60:.2f}× the budget)")


if __name__ == "__main__":
    main()

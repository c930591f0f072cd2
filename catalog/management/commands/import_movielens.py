"""python manage.py import_movielens SOURCE | --download [--overviews F] [--credits F] [--overwrite] [--cache-mb N]"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sized
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.importer import IMPORT_CACHE_MB, DownloadError, RowBatches, download_ml_small, import_dataset
from catalog.movielens import ImportFormatError, parse_dataset


class Command(BaseCommand):
    help = (
        "Import MovieLens (ml-latest-small layout), optionally with TMDB overviews and credits. "
        "New films are added and blank fields filled; stored values (staff edits) are kept, never blanked, "
        "and genre links and credits are never removed, unless --overwrite is given. Films without a "
        "MovieLens id (e.g. the starter catalogue) are matched by title and year instead of duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", nargs="?", help="Folder with movies.csv, ratings.csv, links.csv, tags.csv")
        parser.add_argument("--download", action="store_true", help="Fetch ml-latest-small from GroupLens (sha256-checked)")
        parser.add_argument("--overviews", type=Path, help="movies_enriched.csv (movieId,...,overview,tagline,runtime,...)")
        parser.add_argument("--credits", type=Path, help="directors_actors.csv (,movieId,directors,actors)")
        parser.add_argument(
            "--cache-mb",
            type=int,
            default=IMPORT_CACHE_MB,
            help=f"SQLite page cache for the import's transaction (default {IMPORT_CACHE_MB}); "
            "~2000 keeps a 32M-rating import's indexes in memory",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Let the files' values replace stored ones (title, year, genres, and ids, tags, overview, "
            "tagline, runtime and credits when their file is given and covers the film), also undoing staff edits",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts) -> None:
        if bool(opts["source"]) == bool(opts["download"]):
            raise CommandError("Give either a SOURCE folder or --download.")
        started = time.perf_counter()
        if opts["download"]:
            try:
                folder = download_ml_small(Path(settings.VAR_DIR) / "downloads")
            except (DownloadError, OSError) as exc:
                raise CommandError(f"Download failed: {exc}") from exc
        else:
            folder = Path(opts["source"])
            if not folder.is_dir():
                raise CommandError(f"{folder} is not a folder")
        show = not opts["no_progress"]

        def progress(label: str, items: Iterable) -> Iterable:
            bar = partial(tqdm, desc=label, unit="row", disable=not show, mininterval=0.5, file=self.stderr._out)
            if isinstance(items, RowBatches):
                return _count_rows(bar(total=items.rows), items)
            return bar(items)

        try:
            self.stdout.write("Reading files…")
            data = parse_dataset(folder, overviews=opts["overviews"], credits=opts["credits"])
        except ImportFormatError as exc:
            raise CommandError(f"Import stopped, nothing was changed. {exc}") from exc
        try:
            stats = import_dataset(data, progress=progress, cache_mb=opts["cache_mb"], overwrite=opts["overwrite"])
        except KeyboardInterrupt:
            raise CommandError("Import interrupted; it was rolled back, nothing was changed.", returncode=130) from None
        elapsed = time.perf_counter() - started
        linked = f" (of which {stats.movies_linked} matched by title and year)" if stats.movies_linked else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported in {elapsed:.1f}s: films +{stats.movies_created} ~{stats.movies_updated}{linked}, "
                f"users +{stats.users_created}, ratings +{stats.ratings_created} ~{stats.ratings_updated}, "
                f"credits +{stats.credits_created}."
            )
        )
        if stats.movies_kept:
            self.stdout.write(
                f"{stats.movies_kept} films differ from the files and were left as stored; use --overwrite to replace."
            )


def _count_rows(bar: tqdm, batches: RowBatches) -> Iterator[Sized]:
    """Advance the bar by each batch's rows (ratings are written 50k at a time)."""
    with bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))

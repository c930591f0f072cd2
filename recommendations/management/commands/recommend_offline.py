"""python manage.py recommend_offline: the site's recommendation pipeline on files, no database.

    python manage.py recommend_offline --ratings TRAIN.csv --movies MOVIES.csv --k 10 \\
        --out RECS.csv [--users USERS.txt] [--budget-seconds 1140]

TRAIN.csv: ``userID,itemID,rating,timestamp``. MOVIES.csv: ``itemID,title,genres`` and
optionally ``overview,directors,actors,tags`` (list fields ``|``-separated). Ids may be any
strings. Writes ``userID,itemID,prediction``: the top k films per user, rated films excluded.
Users listed in USERS.txt (one id per line) but absent from TRAIN.csv get the cold-start
ranking. The pipeline is ``recommendations.ml.pipeline``; see its docstring for the budget.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

RATING_COLUMNS = ("userID", "itemID", "rating", "timestamp")
MOVIE_REQUIRED = ("itemID", "title", "genres")
MOVIE_OPTIONAL = ("overview", "directors", "actors", "tags")
# Case-insensitive header names, plus MovieLens' own spellings.
ALIASES = {"userid": "userID", "itemid": "itemID", "movieid": "itemID"}


class InputError(CommandError):
    """A problem in an input file, reported as ``file:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def _canonical(name: str, allowed: tuple[str, ...]) -> str | None:
    key = name.strip().lstrip("\ufeff").lower()
    for col in allowed:
        if col.lower() == key:
            return col
    alias = ALIASES.get(key)
    return alias if alias in allowed else None


def _rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...], *, ignore_unknown: bool) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; the header is checked against the columns."""
    if not path.is_file():
        raise InputError(path, None, "file not found")
    allowed = required + optional
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(path, 1, "empty file: expected a header line " + ",".join(required)) from None
            names = [_canonical(h, allowed) for h in header]
            unknown = [h for h, n in zip(header, names, strict=True) if n is None]
            if unknown and not ignore_unknown:
                raise InputError(
                    path,
                    1,
                    f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)} "
                    "(--ignore-unknown-columns skips them)",
                )
            missing = [c for c in required if c not in names]
            if missing:
                raise InputError(path, 1, f"missing column(s) {', '.join(missing)}; header is {','.join(header)}")
            dup = {n for n in names if n is not None and names.count(n) > 1}
            if dup:
                raise InputError(path, 1, f"duplicate column(s) {', '.join(sorted(dup))}")
            for fields in reader:
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # blank line
                if len(fields) != len(header):
                    raise InputError(path, line, f"expected {len(header)} fields, found {len(fields)}")
                yield line, {n: v for n, v in zip(names, fields, strict=True) if n is not None}
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(path, None, f"malformed CSV: {exc}") from None


def _number(value: str, path: Path, line: int, column: str) -> float:
    try:
        out = float(value)
    except ValueError:
        raise InputError(path, line, f"{column} {value!r} is not a number") from None
    if not math.isfinite(out):
        raise InputError(path, line, f"{column} {value!r} is not a finite number")
    return out


def read_ratings(path: Path, *, ignore_unknown: bool = False) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    users: list[str] = []
    items: list[str] = []
    values: list[float] = []
    stamps: list[float] = []
    for line, row in _rows(path, RATING_COLUMNS, (), ignore_unknown=ignore_unknown):
        user, item = row["userID"].strip(), row["itemID"].strip()
        if not user:
            raise InputError(path, line, "empty userID")
        if not item:
            raise InputError(path, line, "empty itemID")
        users.append(user)
        items.append(item)
        values.append(_number(row["rating"], path, line, "rating"))
        stamps.append(_number(row["timestamp"], path, line, "timestamp"))
    if not users:
        raise InputError(path, None, "no ratings")
    return users, items, np.asarray(values, dtype=np.float32), np.asarray(stamps, dtype=np.float64)


def read_movies(path: Path, *, ignore_unknown: bool = False) -> dict[str, dict[str, Any]]:
    """itemID -> a FilmDoc-like mapping for ``film_text``."""
    docs: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for line, row in _rows(path, MOVIE_REQUIRED, MOVIE_OPTIONAL, ignore_unknown=ignore_unknown):
        item = row["itemID"].strip()
        if not item:
            raise InputError(path, line, "empty itemID")
        if item in docs:
            raise InputError(path, line, f"duplicate itemID {item!r} (first on line {first_line[item]})")
        first_line[item] = line
        docs[item] = {
            "title": row["title"],
            "genres": row["genres"],
            "overview": row.get("overview", ""),
            "directors": row.get("directors", ""),
            "cast": row.get("actors", ""),
            "tags": row.get("tags", ""),
        }
    if not docs:
        raise InputError(path, None, "no films")
    return docs


def read_users(path: Path) -> list[str]:
    """One id per line; blank lines and a ``userID`` header are skipped, duplicates dropped."""
    if not path.is_file():
        raise InputError(path, None, "file not found")
    out: list[str] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for n, raw in enumerate(fh, start=1):
                user = raw.strip()
                if not user or (n == 1 and user.lower() == "userid"):
                    continue
                if "," in user:
                    raise InputError(path, n, f"expected one user id per line, found {user!r}")
                if user not in seen:
                    seen.add(user)
                    out.append(user)
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return out


class Command(BaseCommand):
    help = "Train the recommendation pipeline on CSV files and write the top-k films per user (no database)."
    # Files only: no system checks (some touch the database) and no migrations check.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ratings", required=True, type=Path, help="TRAIN.csv: userID,itemID,rating,timestamp")
        parser.add_argument("--movies", required=True, type=Path, help="MOVIES.csv: itemID,title,genres[,overview,directors,actors,tags]")
        parser.add_argument("--out", required=True, type=Path, help="RECS.csv to write: userID,itemID,prediction")
        parser.add_argument("--k", type=int, default=10, help="films per user (default 10)")
        parser.add_argument("--users", type=Path, help="USERS.txt: only these users, one id per line")
        parser.add_argument(
            "--budget-seconds",
            type=float,
            default=1140.0,
            help="wall-clock budget from start to written file (default 1140: 19 minutes, a margin under 20 for start-up and estimate error)",
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-content", action="store_true", help="skip the language model (collaborative + popularity)")
        parser.add_argument("--no-finetune", action="store_true", help="use the base encoder without fine-tuning")
        parser.add_argument("--finetune-steps", type=int, help="pin the number of fine-tuning steps (reproducible runs)")
        parser.add_argument("--ignore-unknown-columns", action="store_true", help="skip unknown CSV columns instead of failing")

    def log(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        self.stdout.write(f"[{elapsed:6.1f}s] {message}")
        self.stdout.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        from recommendations.ml.pipeline import Budget, PipelineConfig, build_dataset, recommend, run_pipeline, vector_choice_text
        from recommendations.ml.text import film_text

        self.started = time.perf_counter()
        k = int(opts["k"])
        if k < 1:
            raise CommandError("--k must be at least 1")
        if opts["budget_seconds"] <= 0:
            raise CommandError("--budget-seconds must be positive")
        if opts["finetune_steps"] is not None and opts["finetune_steps"] < 1:
            raise CommandError("--finetune-steps must be at least 1")
        out: Path = opts["out"]
        if out.parent and not out.parent.exists():
            raise CommandError(f"{out.parent}: output directory does not exist")
        budget = Budget(opts["budget_seconds"])
        ignore = bool(opts["ignore_unknown_columns"])

        with budget.stage("read"):
            users, items, values, stamps = read_ratings(opts["ratings"], ignore_unknown=ignore)
            docs = read_movies(opts["movies"], ignore_unknown=ignore)
            wanted = read_users(opts["users"]) if opts["users"] else None
        texts = {item: film_text(doc) for item, doc in docs.items()}
        dataset = build_dataset(users, items, values, stamps, texts)
        missing = len(set(items) - set(docs))
        self.log(
            f"read {len(users)} ratings from {dataset.n_users} users on {len(set(items))} films; "
            f"{len(docs)} films in {opts['movies'].name}" + (f"; {missing} rated films have no row there (kept, no text)" if missing else "")
        )

        config = PipelineConfig(
            k=k,
            budget_seconds=opts["budget_seconds"],
            seed=opts["seed"],
            content=not opts["no_content"],
            finetune=not opts["no_finetune"],
            finetune_steps=opts["finetune_steps"],
        )
        result = run_pipeline(dataset, config, log=self.log, budget=budget)

        with budget.stage("rank"):
            if wanted is None:
                user_index = np.arange(dataset.n_users)
                user_names = dataset.user_ids.tolist()
            else:
                pos = {u: n for n, u in enumerate(dataset.user_ids.tolist())}
                user_index = np.array([pos.get(u, -1) for u in wanted], dtype=np.int64)
                user_names = wanted
                unknown = int((user_index < 0).sum())
                if unknown:
                    self.log(f"{unknown} of {len(wanted)} users have no ratings: they get the cold-start ranking")
            ranked, scores = recommend(result, user_index, k)
        with budget.stage("write"):
            rows = self._write(out, user_names, dataset.item_ids, ranked, scores)
        report = budget.report()
        self.log(f"wrote {rows} rows for {len(user_names)} users to {out}")
        self.log("time per stage (s): " + ", ".join(f"{name} {sec:.1f}" for name, sec in report["stages"].items()))
        self.log("peak RSS when each stage ended (MB): " + ", ".join(f"{name} {mb}" for name, mb in report["peak_rss_mb"].items()))
        if report["peak_rss_children_mb"]:
            self.log(f"peak RSS of the largest child process (TensorFlow work) (MB): {report['peak_rss_children_mb']}")
        self.log(f"total {report['elapsed_seconds']:.1f} s of a {report['budget_seconds']:.0f} s budget; plan: {report['plan']}")
        if result.info.get("vectors"):
            self.log(f"content vectors used: {vector_choice_text(result.info, k)}")

    def _write(self, out: Path, users: list[str], item_ids: np.ndarray, ranked: np.ndarray, scores: np.ndarray) -> int:
        # Write beside the target, then rename: a failed run never leaves half a file.
        fd, tmp = tempfile.mkstemp(prefix=".recs-", suffix=".csv", dir=out.parent if str(out.parent) else ".")
        n = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(["userID", "itemID", "prediction"])
                for user, items, vals in zip(users, ranked, scores, strict=True):
                    for item, val in zip(items, vals, strict=True):
                        if item < 0:
                            break
                        writer.writerow([user, item_ids[item], f"{float(val):.6f}"])
                        n += 1
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return n


if __name__ == "__main__":  # pragma: no cover - run through manage.py
    sys.exit("run: python manage.py recommend_offline --help")

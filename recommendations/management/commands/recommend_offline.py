"""python manage.py recommend_offline: the site's recommendation pipeline on files, no database.

    python manage.py recommend_offline --ratings TRAIN.csv --movies MOVIES.csv --k 10 \\
        --out RECS.csv [--users USERS.txt] [--budget-seconds 1140]

TRAIN.csv: ``userID,itemID,rating,timestamp``. MOVIES.csv: ``itemID,title,genres`` and
optionally ``overview,directors,actors,tags`` (list fields ``|``-separated). Ids may be any
strings. Writes ``userID,itemID,prediction``: the top k films per user, rated films excluded
(fewer when a user has fewer unrated films). Every rating counts as an interaction for ranking,
whatever its value; the values pick the fine-tuning pairs (films liked together).
Users listed in USERS.txt (one id per line) but absent from TRAIN.csv get the cold-start
ranking. The pipeline is ``recommendations.ml.pipeline``; see its docstring for the budget.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.offline_files import check_writable, read_movies, read_ratings, read_users, write_recs


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
        from recommendations.ml.budget import Budget, process_age_seconds
        from recommendations.ml.pipeline import (
            PipelineConfig,
            build_dataset,
            recommend,
            run_pipeline,
            vector_choice_text,
        )
        from recommendations.ml.text import film_text

        # The budget runs "from start to written file": when this command is the process (not a
        # call_command inside a longer-lived one), interpreter and Django start-up count too.
        self.started = time.perf_counter() - (process_age_seconds() if sys.argv[1:2] == ["recommend_offline"] else 0.0)
        k = int(opts["k"])
        if k < 1:
            raise CommandError("--k must be at least 1")
        if not math.isfinite(opts["budget_seconds"]) or opts["budget_seconds"] <= 0:
            raise CommandError("--budget-seconds must be a positive number of seconds")
        if opts["finetune_steps"] is not None and opts["finetune_steps"] < 1:
            raise CommandError("--finetune-steps must be at least 1")
        out: Path = opts["out"]
        check_writable(out)
        budget = Budget(opts["budget_seconds"], spent_before=time.perf_counter() - self.started)
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
                    warn = " WARNING: most listed users are not in the ratings file; are the ids spelt as there?" if unknown * 2 > len(wanted) else ""
                    self.log(f"{unknown} of {len(wanted)} users have no ratings: they get the cold-start ranking.{warn}")
            ranked, scores = recommend(result, user_index, k)
            lengths = (ranked >= 0).sum(axis=1)
            short = int((lengths < k).sum())
            if short:
                self.log(f"{short} users have fewer than {k} films they have not rated ({int((lengths == 0).sum())} have none): their lists are shorter")
        with budget.stage("write"):
            rows = write_recs(out, user_names, dataset.item_ids, ranked, scores)
        report = budget.report()
        self.log(f"wrote {rows} rows for {len(user_names)} users to {out}")
        self.log("time per stage (s): " + ", ".join(f"{name} {sec:.1f}" for name, sec in report["stages"].items()))
        self.log("peak RSS when each stage ended (MB): " + ", ".join(f"{name} {mb}" for name, mb in report["peak_rss_mb"].items()))
        if report["peak_rss_children_mb"]:
            self.log(f"peak RSS of the largest child process (TensorFlow work) (MB): {report['peak_rss_children_mb']}")
        self.log(f"total {report['elapsed_seconds']:.1f} s of a {report['budget_seconds']:.0f} s budget; plan: {report['plan']}")
        if report["elapsed_seconds"] > report["budget_seconds"]:
            # The smallest plan (200 films, no content) has a floor; say so rather than hide it.
            self.log(f"WARNING: over the budget by {report['elapsed_seconds'] - report['budget_seconds']:.1f} s (the smallest plan could not fit it)")
        if result.info.get("vectors"):
            self.log(f"content vectors used: {vector_choice_text(result.info, k)}")


if __name__ == "__main__":  # pragma: no cover - run through manage.py
    sys.exit("run: python manage.py recommend_offline --help")

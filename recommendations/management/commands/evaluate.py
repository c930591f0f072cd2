"""python manage.py evaluate: Microsoft Recommenders' MovieLens-100K protocol, written to docs/.

    python manage.py evaluate [--data ../shared/data] [--filter-by both|user|item]
        [--finetune-seconds 240 | --finetune-steps N] [--out-dir docs]

Protocol: ``python_stratified_split(ratio=0.75, seed=42)`` on ``u.data``; k = 10; train
films removed; every test rating relevant; binary nDCG, P@k, R@k and Spark-style MAP
(``recommendations.ml.metrics`` reproduces ``recommenders.evaluation.python_evaluation``).
The issue names ``filter_by="item"``; the published split sizes and EASE figure
(74,992 / 25,008, 0.4801) are reproduced by ``filter_by="user"``. Both are reported.

Every learnt model is fitted on the training split only: λ and the blend weights on a
validation split carved from it, the encoder fine-tuned on pairs from that carve's fit part
(``recommendations.ml.pipeline``, the code ``recommend_offline`` runs). The test split is
read only to score.

ml-100k users all have at least 20 ratings, so the ≤ 5 bucket is empty on the real split.
For it, a cold-start simulation truncates the *training* history of a random 30% of users
(half keep 1–5 ratings, half 6–20; test untouched) and the whole pipeline is rerun.

No database access.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.ml.metrics import RankingMetrics

# Row order of every table. Keys are stable identifiers; labels are what the report shows.
MODELS: dict[str, str] = {
    "popularity": "popularity",
    "ease300": "EASE λ=300 (anchor setting)",
    "ease": "EASE (λ, ridge validated)",
    "content": "content, zero-shot MiniLM",
    "content_ft": "content, fine-tuned MiniLM",
    "hybrid_zs": "hybrid with zero-shot content",
    "hybrid": "**hybrid (movierec pipeline)**",
}
PUBLISHED = [("BiVAE", 0.4751), ("BPR", 0.4420), ("LightGCN", 0.4198), ("SAR", 0.3825), ("popularity", 0.2500)]
BUCKETS = ("<=5", "6-20", ">20")
BUCKET_LABELS = {"<=5": "≤ 5", "6-20": "6–20", ">20": "> 20"}


@dataclass
class Run:
    """Scores of every model on one (split, train variant)."""

    title: str
    n_train: int
    n_test: int
    overall: dict[str, RankingMetrics] = field(default_factory=dict)
    buckets: dict[str, dict[str, RankingMetrics]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _fmt(v: float) -> str:
    return f"{v:.4f}"


def overall_table(run: Run) -> list[str]:
    lines = ["| model | nDCG@10 | P@10 | R@10 | MAP | fit s |", "|---|---|---|---|---|---|"]
    for key, label in MODELS.items():
        if key in run.overall:
            m = run.overall[key]
            lines.append(
                f"| {label} | {_fmt(m.ndcg)} | {_fmt(m.precision)} | {_fmt(m.recall)} | {_fmt(m.map)} | {run.seconds.get(key, 0):.1f} |"
            )
        else:
            lines.append(f"| {label} | – | – | – | – | not run: {run.skipped.get(key, 'n/a')} |")
    return lines


def bucket_table(run: Run) -> list[str]:
    head = " | ".join(f"{BUCKET_LABELS[b]} (users)" for b in BUCKETS)
    lines = [f"| model | {head} |", "|---|" + "---|" * len(BUCKETS)]
    for key, label in MODELS.items():
        per = run.buckets.get(key)
        if per is None:
            lines.append(f"| {label} | " + " | ".join("–" for _ in BUCKETS) + " |")
            continue
        cells = [f"{per[b].ndcg:.4f} ({per[b].n_users})" if per[b].n_users else "– (0)" for b in BUCKETS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def verdicts(real: Run, cold: Run | None) -> list[str]:
    """The issue's "done when" checks, computed (not asserted) from the tables."""
    out: list[str] = []
    if "hybrid" in real.overall:
        h = real.overall["hybrid"].ndcg
        out.append(f"- hybrid nDCG@10 {h:.4f}: {'reaches' if h >= 0.5 else 'does not reach'} the 0.50 goal")
        for ref in ("ease", "ease300"):
            if ref in real.overall:
                e = real.overall[ref].ndcg
                out.append(f"- hybrid vs {MODELS[ref]}: {h - e:+.4f}")
    for run in (real, cold):
        if run is None or "hybrid" not in run.buckets:
            continue
        for b in BUCKETS:
            hb = run.buckets["hybrid"][b]
            if not hb.n_users:
                continue
            for ref in ("ease", "ease300", "popularity"):
                if ref in run.buckets:
                    rb = run.buckets[ref][b]
                    sign = "≥" if hb.ndcg >= rb.ndcg else "<"
                    out.append(f"- {run.title}, bucket {BUCKET_LABELS[b]}: hybrid {hb.ndcg:.4f} {sign} {MODELS[ref]} {rb.ndcg:.4f}")
    return out


class Command(BaseCommand):
    help = "Offline evaluation on MovieLens 100K (Microsoft Recommenders protocol); writes docs/quality.md and docs/quality.png."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, default=Path(settings.BASE_DIR).parent / "shared" / "data", help="folder holding ml-100k/ and overviews/")
        parser.add_argument("--filter-by", choices=("both", "user", "item"), default="both")
        parser.add_argument("--finetune-seconds", type=float, default=240.0, help="fine-tuning time per pipeline run (0: no fine-tuning)")
        parser.add_argument(
            "--finetune-steps", type=int, help="fine-tuning steps per pipeline run, whatever they take (the same on any machine)"
        )
        parser.add_argument("--cold-fraction", type=float, default=0.3, help="share of users truncated in the cold-start simulation")
        parser.add_argument("--cold-seed", type=int, default=0)
        parser.add_argument("--no-cold", action="store_true", help="skip the cold-start simulation")
        parser.add_argument("--no-content", action="store_true", help="skip the language model (no TensorFlow)")
        parser.add_argument("--seed", type=int, default=42, help="split seed (the protocol's is 42)")
        parser.add_argument("--out-dir", type=Path, default=Path(settings.BASE_DIR) / "docs")
        parser.add_argument("--json", type=Path, help="also write the raw numbers here")
        parser.add_argument("--from-json", type=Path, help="only re-render the report from numbers saved with --json")

    def log(self, message: str) -> None:
        self.stdout.write(f"[{time.perf_counter() - self.started:7.1f}s] {message}")
        self.stdout.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        from recommendations.ml.evaluation import film_docs_ml100k, load_ml100k, make_split, simulate_cold_users
        from recommendations.ml.text import film_text

        self.started = time.perf_counter()
        if opts["from_json"]:
            runs, meta = _from_raw(json.loads(opts["from_json"].read_text(encoding="utf-8")))
            self._write_report(runs, meta, opts)
            return
        if opts["finetune_steps"] is not None and opts["finetune_steps"] < 0:
            raise CommandError("--finetune-steps must be >= 0 (0: no fine-tuning)")
        data_dir: Path = opts["data"]
        if not (data_dir / "ml-100k" / "u.data").is_file():
            raise CommandError(f"{data_dir / 'ml-100k' / 'u.data'} not found (use --data)")
        if not (data_dir / "overviews" / "movies_enriched.csv").is_file():
            raise CommandError(f"{data_dir / 'overviews' / 'movies_enriched.csv'} not found (use --data)")
        out_dir: Path = opts["out_dir"]
        out_dir.mkdir(parents=True, exist_ok=True)

        data = load_ml100k(data_dir)
        docs, coverage = film_docs_ml100k(data, data_dir)
        credits = sum(1 for d in docs if d["directors"]) / max(len(docs), 1)
        texts = [film_text(d) for d in docs]
        self.log(f"ml-100k: {len(data.users)} ratings, {data.n_users} users, {data.n_items} films; TMDB overview coverage {coverage:.1%}")

        base = None
        if not opts["no_content"]:
            from recommendations.ml.pipeline import _default_encoder_loader

            self.log(f"embedding {len(texts)} films with the base encoder (shared by every run: it is not trained)")
            t0 = time.perf_counter()
            encoder = _default_encoder_loader()
            base = encoder.embed(texts)
            del encoder
            self.log(f"embedded in {time.perf_counter() - t0:.0f} s")

        splits = ("user", "item") if opts["filter_by"] == "both" else (opts["filter_by"],)
        runs: list[tuple[str, Run, Run | None]] = []
        for fb in splits:
            train, test, mask = make_split(data, filter_by=fb, seed=opts["seed"])
            rows = np.flatnonzero(mask)
            real = self.evaluate_run(f"filter_by={fb!r}", data, texts, rows, train, test, base, opts)
            cold = None
            if not opts["no_cold"]:
                cold_train, chosen = simulate_cold_users(train, fraction=opts["cold_fraction"], seed=opts["cold_seed"])
                kept = rows[_on_cells(cold_train, data.users[rows], data.items[rows])]
                cold = self.evaluate_run(
                    f"filter_by={fb!r}, cold-start simulation ({chosen.size} users truncated)", data, texts, kept, cold_train, test, base, opts
                )
            runs.append((fb, real, cold))

        meta = {
            "coverage_overview": coverage,
            "coverage_credits": credits,
            "films": data.n_items,
            "seconds": time.perf_counter() - self.started,
            "finetune_seconds": opts["finetune_seconds"],
            "finetune_steps": opts["finetune_steps"],
            "content": base is not None,
            "cold_fraction": opts["cold_fraction"],
        }
        if opts["json"]:
            opts["json"].write_text(json.dumps(_raw(runs, meta), indent=2, default=float), encoding="utf-8")
        self._write_report(runs, meta, opts)

    def _write_report(self, runs: list[tuple[str, Run, Run | None]], meta: dict[str, Any], opts: dict[str, Any]) -> None:
        out_dir: Path = opts["out_dir"]
        out_dir.mkdir(parents=True, exist_ok=True)
        md = out_dir / "quality.md"
        md.write_text(render_markdown(runs, meta), encoding="utf-8")
        png = out_dir / "quality.png"
        chart = render_chart(runs, png)
        self.log(f"wrote {md}" + (f" and {png}" if chart else " (no chart: matplotlib is not installed)"))
        for _fb, real, _cold in runs:
            self.stdout.write("\n".join([f"\n{real.title}", *overall_table(real)]))

    # ------------------------------------------------------------------------------------
    def evaluate_run(
        self,
        title: str,
        data: Any,
        texts: list[str],
        rows: np.ndarray,
        train: sp.csr_matrix,
        test: sp.csr_matrix,
        base: np.ndarray | None,
        opts: dict[str, Any],
    ) -> Run:
        from recommendations.ml.collab import carve_validation, fit_collab, stamp_matrix
        from recommendations.ml.evaluation import evaluate_scores
        from recommendations.ml.hybrid import HybridModel, popularity_scores, taste_scores
        from recommendations.ml.pipeline import Dataset, PipelineConfig, run_pipeline

        self.log(f"--- {title}: {train.nnz} train / {test.nnz} test")
        run = Run(title, int(train.nnz), int(test.nnz))
        seed = 42  # the validation carve's seed, as HybridModel uses by default in evaluation

        def record(key: str, fn: Callable[[], np.ndarray]) -> None:
            t0 = time.perf_counter()
            scores = fn()
            run.seconds[key] = time.perf_counter() - t0
            run.overall[key], run.buckets[key] = evaluate_scores(scores, train, test)
            self.log(f"{MODELS[key].strip('*')}: nDCG@10 {run.overall[key].ndcg:.4f} ({run.seconds[key]:.0f} s)")

        n_items = train.shape[1]
        record("popularity", lambda: np.tile(popularity_scores(train), (train.shape[0], 1)))
        record("ease300", lambda: fit_collab(train, n_items, lam=300.0, pop_reg=0.0).scores(train))

        def ease() -> np.ndarray:
            model = fit_collab(train, n_items, seed=seed)
            run.info["ease_params"] = {k: round(v, 4) for k, v in model.params.items()}
            return model.scores(train)

        record("ease", ease)

        dataset = Dataset(
            user_ids=np.arange(data.n_users),
            item_ids=np.arange(data.n_items),
            users=data.users[rows],
            items=data.items[rows],
            values=data.ratings[rows],
            timestamps=data.timestamps[rows].astype(np.float64),
            texts=texts,
        )
        ft_seconds, ft_steps = float(opts["finetune_seconds"]), opts["finetune_steps"]
        config = PipelineConfig(
            budget_seconds=24 * 3600.0,  # evaluation is bounded by its fine-tuning, not a deadline
            seed=seed,
            content=base is not None,
            finetune=ft_seconds > 0 if ft_steps is None else ft_steps > 0,
            # Pinned steps replace the time limit: the run is then the same on a slow machine.
            finetune_seconds=ft_seconds if ft_seconds > 0 and ft_steps is None else None,
            finetune_steps=ft_steps or None,
            keep_alternative=True,  # the zero-shot ablation below reuses the fit the pipeline did not keep
        )
        t0 = time.perf_counter()
        result = run_pipeline(dataset, config, log=lambda m: self.log("  " + m), base_vectors=base)
        pipeline_seconds = time.perf_counter() - t0
        run.info["pipeline"] = {"budget": result.budget, **{k: v for k, v in result.info.items() if k != "hybrid"}}
        run.info["hybrid"] = result.info.get("hybrid")
        if not np.array_equal(result.dataset.matrix().toarray() > 0, train.toarray() > 0):
            raise CommandError("internal error: the pipeline's training matrix differs from the split")

        if base is not None:
            record("content", lambda: taste_scores(train, base))
        else:
            run.skipped["content"] = "--no-content"
        if result.tuned_vectors is not None:
            tuned = result.tuned_vectors
            record("content_ft", lambda: taste_scores(train, tuned))
        else:
            ft = result.budget["plan"].get("finetune", {})
            run.skipped["content_ft"] = ft.get("skipped", "--no-content" if base is None else "not run")
        if base is not None and result.vectors is not base:
            # Ablation: the same hybrid with the zero-shot vectors, fitted on the same carve. The
            # pipeline fitted it when it compared the two hybrids: reused when it is that model
            # (all films, the default cold-start simulations and k), else refitted.
            alt = result.alternative
            reuse = alt is not None and len(result.item_cols) == n_items and (alt.k, alt.cold_repeats) == (10, HybridModel().cold_repeats)

            def hybrid_zs() -> np.ndarray:
                if reuse:
                    return replace(result, model=alt, vectors=base).score(train)
                fit_x, val_x = carve_validation(train, seed=seed)
                stamps = stamp_matrix(data.users[rows], data.items[rows], data.timestamps[rows], train.shape)
                return HybridModel(seed=seed).fit(fit_x, base, val=val_x, timestamps=stamps).score(train)

            record("hybrid_zs", hybrid_zs)
            if reuse:
                run.seconds["hybrid_zs"] += float(result.budget["stages"].get("fit second hybrid", 0.0))
                run.info["hybrid_zs"] = "the pipeline's own fit with the zero-shot vectors (not kept)"
        else:
            run.skipped["hybrid_zs"] = "the pipeline kept the zero-shot vectors (= hybrid)" if base is not None else "--no-content"
        record("hybrid", lambda: result.score(train))
        run.seconds["hybrid"] += pipeline_seconds
        return run


def _on_cells(x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    x = sp.csr_matrix(x)
    keys = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr)) * x.shape[1] + x.indices
    return np.isin(users.astype(np.int64) * x.shape[1] + items, keys)


def _raw(runs: list[tuple[str, Run, Run | None]], meta: dict[str, Any]) -> dict[str, Any]:
    def dump(run: Run | None) -> dict[str, Any] | None:
        if run is None:
            return None
        return {
            "title": run.title,
            "n_train": run.n_train,
            "n_test": run.n_test,
            "overall": {k: m.as_dict() for k, m in run.overall.items()},
            "buckets": {k: {b: m.as_dict() for b, m in per.items()} for k, per in run.buckets.items()},
            "seconds": run.seconds,
            "skipped": run.skipped,
            "info": run.info,
        }

    return {"meta": meta, "runs": {fb: {"real": dump(real), "cold": dump(cold)} for fb, real, cold in runs}}


def _from_raw(raw: dict[str, Any]) -> tuple[list[tuple[str, Run, Run | None]], dict[str, Any]]:
    def metrics(d: dict[str, float]) -> RankingMetrics:
        return RankingMetrics(d["ndcg"], d["precision"], d["recall"], d["map"], int(d["n_users"]))

    def load(d: dict[str, Any] | None) -> Run | None:
        if d is None:
            return None
        run = Run(d["title"], int(d.get("n_train", 0)), int(d.get("n_test", 0)))
        run.overall = {k: metrics(m) for k, m in d["overall"].items()}
        run.buckets = {k: {b: metrics(m) for b, m in per.items()} for k, per in d["buckets"].items()}
        run.seconds, run.skipped, run.info = d["seconds"], d["skipped"], d["info"]
        return run

    runs = []
    for fb, pair in raw["runs"].items():
        real = load(pair["real"])
        if real is None:
            raise CommandError(f"no results for filter_by={fb!r} in the JSON file")
        runs.append((fb, real, load(pair["cold"])))
    return runs, raw["meta"]


def _finetune_limit(meta: dict[str, Any]) -> str:
    steps = meta.get("finetune_steps")  # absent from reports saved before the option existed
    return f"{steps} steps" if steps is not None else f"{meta['finetune_seconds']:.0f} s"


def render_markdown(runs: list[tuple[str, Run, Run | None]], meta: dict[str, Any]) -> str:
    lines = [
        "# Offline quality on MovieLens 100K",
        "",
        "Generated by `python manage.py evaluate` (do not edit by hand): "
        f"{meta['seconds'] / 60:.1f} minutes on this machine, fine-tuning {_finetune_limit(meta)} per pipeline run.",
        "",
        "Protocol (Microsoft Recommenders' MovieLens benchmark): `python_stratified_split(ratio=0.75, seed=42)` on "
        "`u.data`; k = 10 with training films removed; every test rating is relevant; binary nDCG, Precision@10, "
        "Recall@10 and Spark-style MAP, as `recommenders.evaluation.python_evaluation` computes them.",
        "",
        '**`filter_by`.** The issue names `filter_by="item"`; the published split sizes (74,992 train / 25,008 test) and '
        'the EASE λ=300 anchor (0.4801) are what `filter_by="user"` gives. Both splits are reported below.',
        "",
        "Everything learnt is fitted on the training split only: EASE's λ and ridge, the blend weights and the choice "
        "between zero-shot and fine-tuned vectors (the hybrid is fitted with each, and the one whose blend validates "
        "better is kept) on a validation split carved from it; the encoder is fine-tuned on "
        "film pairs from that carve's fit part. The test split is only scored.",
        "",
        "The hybrid's EASE also uses *when* training films were rated (`collab.temporal_cooccurrence`): films rated "
        "within a few positions of each other in users' time-ordered training histories get extra weight in the Gram "
        "matrix; the window and weight are validated like λ (weight 0, plain EASE, stays a candidate), and the "
        "co-occurrences are counted on the carve's fit part for validation. The `EASE` rows do not use times.",
        "",
        "Its weights also get a low-rank term from implicit ALS (`ml/lowrank.py`: 64 item factors, the user's "
        "fold-in linearised around the average user, so the term is one more item x item matrix); the ridge and the "
        "term's weight are validated on the same carve, weight 0 included. On top of it, GF-CF's ideal low-pass "
        "term (the top 32 or 64 singular vectors of the degree-normalised rating matrix), its rank and weight "
        "validated the same way. The `EASE` rows have neither.",
        "",
        f"Film texts: ml-100k films matched by title and year to ml-latest-small's TMDB overviews: "
        f"**{meta['coverage_overview']:.1%}** have an overview, {meta['coverage_credits']:.1%} directors and cast.",
        "",
        "Published nDCG@10 on this protocol: " + ", ".join(f"{n} {v:.4f}" for n, v in PUBLISHED) + ".",
        "",
    ]
    for fb, real, cold in runs:
        lines += [f"## `filter_by={fb!r}`: {real.n_train:,} train / {real.n_test:,} test", "", *overall_table(real), ""]
        lines += ["nDCG@10 per activity bucket (training ratings per user):", "", *bucket_table(real), ""]
        if cold is not None:
            lines += [
                f"### Cold-start simulation on `filter_by={fb!r}`",
                "",
                f"ml-100k has no user with ≤ 5 ratings. Here {meta['cold_fraction']:.0%} of users, drawn at random, keep "
                "only 1–5 (half of them) or 6–20 random training ratings; their test ratings are unchanged, and the whole "
                "pipeline, fine-tuning included, is rerun on this training set.",
                "",
                *overall_table(cold),
                "",
                *bucket_table(cold),
                "",
            ]
        lines += ["### Checks", "", *verdicts(real, cold), ""]
        lines += ["### Learnt settings", ""]
        for run in (real, cold):
            if run is None:
                continue
            pipe = run.info.get("pipeline", {})
            hybrid = run.info.get("hybrid") or {}
            ft = pipe.get("budget", {}).get("plan", {}).get("finetune", {})
            lines.append(f"- {run.title}:")
            lines.append(f"  - EASE: {run.info.get('ease_params')}")
            if hybrid:
                lines.append(f"  - hybrid collaborative part: {_short(hybrid.get('params', {}))}")
                lines.append(f"  - hybrid blend weights per bucket: {hybrid.get('weights')}")
            if "vectors" in pipe:
                from recommendations.ml.pipeline import vector_choice_text

                lines.append(f"  - content vectors kept: {vector_choice_text(pipe)}")
            if ft:
                lines.append(f"  - fine-tuning: {_short(ft)}")
        lines.append("")
    return "\n".join(lines)


def _short(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={round(v, 4) if isinstance(v, float) else v}" for k, v in d.items())


def render_chart(runs: list[tuple[str, Run, Run | None]], path: Path) -> bool:
    """Grouped bars: nDCG@10 per model on each split, and per bucket in the simulation."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    keys = [k for k in MODELS if any(k in real.overall for _, real, _ in runs)]
    labels = [MODELS[k].strip("*") for k in keys]
    panels: list[tuple[str, list[str], list[list[float]]]] = []
    panels.append(
        ("nDCG@10, whole test split", [f"filter_by={fb}" for fb, _, _ in runs], [[real.overall[k].ndcg if k in real.overall else np.nan for _, real, _ in runs] for k in keys])
    )
    cold_runs = [(fb, cold) for fb, _, cold in runs if cold is not None]
    if cold_runs:
        fb, cold = cold_runs[0]
        panels.append(
            (
                f"nDCG@10 per activity bucket (cold-start simulation, filter_by={fb})",
                [BUCKET_LABELS[b] for b in BUCKETS],
                [[cold.buckets[k][b].ndcg if k in cold.buckets and cold.buckets[k][b].n_users else np.nan for b in BUCKETS] for k in keys],
            )
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.6), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (title, groups, values) in zip(axes[0], panels, strict=True):
        width = 0.8 / max(len(keys), 1)
        x = np.arange(len(groups))
        for j, (label, vals) in enumerate(zip(labels, values, strict=True)):
            bars = ax.bar(x + (j - (len(keys) - 1) / 2) * width, vals, width, label=label, color=colors(j))
            # Models that did not run are NaN: no bar, no label.
            ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.3f}" for v in vals], fontsize=6, rotation=90, padding=2)
        ax.set_xticks(x, groups)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("nDCG@10")
        ax.set_ylim(0, max(0.6, float(np.nanmax(values)) * 1.15))
        ax.grid(axis="y", alpha=0.3)
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("movierec on MovieLens 100K (Microsoft Recommenders protocol); dashed: the 0.50 goal", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True

"""The last stage: score the candidate and the active version on one held-out split, then promote or reject."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils import timezone

from movierec.mongo import atomic  # Django's atomic() is a no-op on MongoDB
from recommendations import services, store
from recommendations.ids import as_key, ids_from_store
from recommendations.models import ActiveModel, ModelVersion, TrainingState
from recommendations.training.build import _collab_params, _fit_collab
from recommendations.training.lifecycle import Status, conf
from recommendations.training.split import Split, build_split
from recommendations.training.stages import StageRun, _run_stage

logger = logging.getLogger(__name__)

K = 10
EVAL_MAX_USERS = 2000  # a seeded sample above this keeps evaluation to seconds


def evaluate_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 4: held-out metrics for candidate and active on one split; promote or reject."""
    return _run_stage(version_id, "evaluate", task_id, _evaluate)


@dataclass
class EvalCollab:
    model: Any
    movie_ids: np.ndarray


def _fit_eval_collab(split: Split, parent: ModelVersion | None) -> EvalCollab | None:
    """A collaborative model on the train part only: shared by both versions, so only the encoder differs."""
    users, movies, _values, _stamps = split.part(split.train)
    if len(users) == 0:
        return None
    item_ids, user_ids = np.unique(movies), np.unique(users)
    interactions = (np.searchsorted(user_ids, users), np.searchsorted(item_ids, movies), np.ones(len(users), np.float32))
    model = _fit_collab(interactions, len(item_ids), _collab_params(len(item_ids), parent))
    return EvalCollab(model, item_ids)


def _fit_eval_hybrids(versions: list[ModelVersion], split: Split) -> dict[int, Any]:
    """For each version served by a hybrid, the same hybrid fitted on the train part only, so the
    gate measures what each version serves without the held-out ratings leaking in."""
    from recommendations.hybrid_store import fit_site_hybrid, prepare

    users, movies, _values, stamps = split.part(split.train)
    out: dict[int, Any] = {}
    for version in versions:
        if not ((version.metrics or {}).get("hybrid") or {}).get("path"):
            continue
        try:
            arrays = store.load_npz(version.embeddings_path)
            movie_ids = ids_from_store(arrays["movie_ids"])
            budget = float(conf("HYBRID_MAX_SECONDS", 900.0))
            model, info = fit_site_hybrid(
                movie_ids, arrays["matrix"], users, movies, budget_seconds=budget, seed=version.pk, stamps=stamps
            )  # with the rating times, as train_hybrid fits the served one
        except Exception:
            logger.exception("v%s: train-split hybrid failed; evaluated with its plain blend", version.pk)
            continue
        if model is None:  # e.g. too little train data: that version is scored by its plain blend
            logger.info("v%s: no train-split hybrid for evaluation (%s)", version.pk, info.get("skipped"))
            continue
        out[version.pk] = prepare(model, movie_ids)
    return out


def _eval_bundle(
    version: ModelVersion, popularity: dict[Any, tuple[int, float]], collab: EvalCollab | None, hybrid: Any = None
) -> store.Bundle:
    arrays = store.load_npz(version.embeddings_path)
    movie_ids = ids_from_store(arrays["movie_ids"])
    matrix = np.ascontiguousarray(arrays["matrix"], dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(movie_ids):
        raise ValueError(f"artifact of v{version.pk} is inconsistent")
    bundle = store.Bundle(version.pk, movie_ids, matrix, {m: i for i, m in enumerate(movie_ids.tolist())})
    # The prior serving uses (store._popularity), from the train part only: the held-out ratings must not leak in.
    bundle.popularity = store.popularity_prior(movie_ids, popularity)
    if collab is not None:
        bundle.collab = collab.model
        bundle.collab_rows = np.array([bundle.row_of.get(m, -1) for m in collab.movie_ids.tolist()], dtype=np.int64)
        bundle.collab_col_of = {m: c for c, m in enumerate(collab.movie_ids.tolist())}  # type: ignore[attr-defined]
    if hybrid is not None:
        from recommendations.hybrid_store import attach_loaded

        attach_loaded(bundle, hybrid)
    bundle.blend = (version.metrics or {}).get("blend_weights", {})
    return bundle


def score_split(
    versions: list[ModelVersion],
    split: Split,
    *,
    collab: EvalCollab | None,
    hybrids: dict[int, Any] | None = None,
    report: Callable[[float, str], None] | None = None,
    seed: int = 0,
) -> dict[int, dict[str, dict[str, float]]]:
    """Recall@10 and nDCG@10 per version, for the serving score ("hybrid") and taste only ("content").

    Each held-out user is scored from their train ratings exactly as serving
    scores them (engine.score_user), with their train films excluded.
    """
    from recommendations.engine import UserProfile, score_user, taste
    from recommendations.ml.metrics import ndcg_at_k, recall_at_k
    from recommendations.ml.ranking import top_k

    tr_users, tr_movies, tr_values, tr_stamps = split.part(split.train)
    films, where = np.unique(tr_movies, return_inverse=True)
    counts, sums = np.bincount(where, minlength=len(films)), np.bincount(where, weights=tr_values, minlength=len(films))
    popularity = {as_key(m): (int(c), float(s)) for m, c, s in zip(films.tolist(), counts.tolist(), sums.tolist(), strict=True)}
    bundles = [_eval_bundle(v, popularity, collab, (hybrids or {}).get(v.pk)) for v in versions]
    users = sorted(split.heldout)
    if len(users) > EVAL_MAX_USERS:
        users = sorted(np.random.default_rng(seed).choice(users, EVAL_MAX_USERS, replace=False).tolist())
    space = np.unique(np.concatenate([split.movies, *[b.movie_ids for b in bundles]]))
    order = np.argsort(tr_users, kind="stable")
    starts = np.searchsorted(tr_users[order], users, side="left")
    ends = np.searchsorted(tr_users[order], users, side="right")
    ranked = {
        (b.version_id, kind): np.full((len(users), K), -1, dtype=np.int64) for b in bundles for kind in ("hybrid", "content")
    }
    truth_rows, truth_cols = [], []
    for u, (user, lo, hi) in enumerate(zip(users, starts, ends, strict=True)):
        rows = order[lo:hi]
        profile = UserProfile(tr_movies[rows], tr_values[rows], tr_stamps[rows], np.zeros(0, dtype=np.int64))
        for bundle in bundles:
            rated = np.array([bundle.row_of[m] for m in profile.movie_ids.tolist() if m in bundle.row_of], dtype=np.int64)
            vec = taste(bundle, profile)[0]
            content = bundle.matrix @ vec if np.any(vec) else np.zeros(len(bundle.movie_ids), np.float32)
            for kind, scores in (("hybrid", score_user(bundle, profile)[0]), ("content", content)):
                top, _ = top_k(scores, K, rated)
                ranked[(bundle.version_id, kind)][u, : len(top)] = np.searchsorted(space, bundle.movie_ids[top])
        held = np.searchsorted(space, split.heldout[user])
        truth_rows += [u] * len(held)
        truth_cols += held.tolist()
        if report and u % 25 == 0:
            report(u / len(users), f"scored {u} of {len(users)} users")
    import scipy.sparse as sp

    truth = sp.csr_matrix((np.ones(len(truth_rows), np.float32), (truth_rows, truth_cols)), shape=(len(users), len(space)))
    out: dict[int, dict[str, dict[str, float]]] = {}
    for (version_id, kind), r in ranked.items():
        out.setdefault(version_id, {})[kind] = {
            f"recall@{K}": round(recall_at_k(r, truth, K), 6),
            f"ndcg@{K}": round(ndcg_at_k(r, truth, K), 6),
        }
    return out


def decide(candidate: dict[str, float], baseline: dict[str, float] | None, tolerance: float) -> tuple[bool, str]:
    """Promote unless nDCG@10 is worse than the active's by more than the tolerance."""
    gate = f"ndcg@{K}"
    if baseline is None:
        return True, f"no active version to compare with; {gate} {candidate[gate]:.4f}"
    delta = candidate[gate] - baseline[gate]
    detail = (
        f"{gate} {candidate[gate]:.4f} vs {baseline[gate]:.4f} ({delta:+.4f}); "
        f"recall@{K} {candidate[f'recall@{K}']:.4f} vs {baseline[f'recall@{K}']:.4f}; tolerance {tolerance}"
    )
    if delta < -tolerance:
        return False, f"worse than the active version: {detail}"
    return True, detail


def _evaluate(run: StageRun) -> None:
    version = run.version
    if not version.embeddings_path:
        raise RuntimeError(f"v{version.pk} has no embeddings to evaluate")
    ModelVersion.objects.filter(pk=version.pk, status=Status.TRAINING).update(status=Status.EVALUATING)
    run.report(0.0, "building the split", force=True)
    split = build_split(version.data_counts.get("cutoff"))
    active = services.active_version()
    use_collab = bool(conf("TRAIN_COLLAB", True))
    scorer = "hybrid" if use_collab else "content"
    compared = [version]
    baseline_note = ""
    if active is not None and active.pk != version.pk:
        try:
            store.load_npz(active.embeddings_path)
            compared.append(active)
        except Exception as exc:  # serving falls back from it too; nothing to beat
            baseline_note = f"active v{active.pk} artifact unusable ({exc!r}); "
    collab = None
    if use_collab:
        with run.beating(0.05, "fitting the collaborative model on the train split"):
            collab = _fit_eval_collab(split, version.parent)
    hybrids = None
    if use_collab:
        with run.beating(0.08, "fitting the hybrid rankers on the train split"):
            hybrids = _fit_eval_hybrids(compared, split)
    scores = score_split(
        compared, split, collab=collab, hybrids=hybrids, report=lambda f, m: run.report(0.1 + 0.85 * f, m), seed=version.pk
    )
    mine = scores[version.pk]
    base = scores.get(active.pk) if active is not None and active.pk != version.pk else None
    tolerance = float(conf("PROMOTE_TOLERANCE", 0.005))
    promote, why = decide(mine[scorer], base[scorer] if base else None, tolerance)
    metrics = {
        **version.metrics,
        **mine[scorer],
        "scorer": scorer,
        "content": mine["content"],
        # merged: metrics["hybrid"] also records the served hybrid artifact (path, weights)
        "hybrid": {**(version.metrics.get("hybrid") or {}), **mine["hybrid"]},
        "k": K,
        "eval_users": len(split.heldout),
        "tolerance": tolerance,
        "baseline": {"version": active.pk, **base[scorer], "content": base["content"], "hybrid": base["hybrid"]}
        if base and active
        else None,
        "decision": "promote" if promote else "reject",
    }
    now = timezone.now()
    run.save(metrics=metrics)
    if active is not None and base and f"ndcg@{K}" not in (active.metrics or {}):  # 0.0 is a result too
        # The active version gets its own numbers on this split, for the admin's chart across versions.
        ModelVersion.objects.filter(pk=active.pk).update(
            metrics={
                **(active.metrics or {}),
                **base[scorer],
                "scorer": scorer,
                "content": base["content"],
                "hybrid": {**((active.metrics or {}).get("hybrid") or {}), **base["hybrid"]},
                "evaluated_with": version.pk,
            }
        )
    if promote:
        with atomic():
            pointer = ActiveModel.objects.singleton().select_for_update().values_list("version_id", flat=True).first()
            expected = active.pk if active is not None else None
            if pointer != expected:  # someone promoted or rolled back by hand meanwhile
                promote, why = False, f"the active version changed during evaluation (v{expected} -> v{pointer})"
            else:
                ModelVersion.objects.filter(pk=version.pk).update(finished_at=now, heartbeat_at=None)
                services.model_version_promote(ModelVersion.objects.get(pk=version.pk), reason=baseline_note + why)
    if not promote:
        ModelVersion.objects.filter(pk=version.pk).update(
            status=Status.REJECTED,
            reason=baseline_note + why,
            finished_at=now,
            heartbeat_at=None,
            metrics={**metrics, "decision": "reject"},
        )
    ModelVersion.objects.filter(pk=version.pk).update(progress=1.0, progress_message="promoted" if promote else "rejected")
    TrainingState.objects.singleton().update(last_trained_at=now)
    logger.info("model v%s %s: %s", version.pk, "promoted" if promote else "rejected", why)

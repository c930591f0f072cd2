"""The hybrid ranker as a version artifact: trained from the site's ratings, served per user.

``train_hybrid`` fits ``HybridModel`` (content-regularised EASE + content + popularity, blend
weights per activity bucket learnt on a validation split carved from the ratings) on the
version's film embedding, and stores it through Django's storage API as
``<ARTIFACT_PREFIX>/v<id>/hybrid.npz``, with the movie ids of its columns inside.

``hybrid_user_scores`` serves one user in a few milliseconds: it reproduces
``HybridModel.score`` for a single profile but returns finite scores for every film (rated
ones included): filtering rated, "not interested" and mentioned films is the engine's job,
and -inf would poison any later z-scoring.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommendations import store
from recommendations.ids import as_key, ids_from_store, ids_to_store, positions
from recommendations.ml.hybrid import FEATURES, HybridModel, activity_bucket, zscore

logger = logging.getLogger(__name__)

MIN_RATINGS = 20  # below this there is nothing to validate blend weights on
MIN_USERS = 3


def hybrid_path(version_id: int) -> str:
    return f"{store.version_prefix(version_id)}/hybrid.npz"


def train_hybrid_or_skip(version_id: int, ratings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> dict:
    """``train_hybrid`` within MOVIEREC["HYBRID_MAX_SECONDS"] that never raises: on failure the
    version is served by its plain collaborative model, and the reason goes into its metrics."""
    from django.conf import settings

    try:
        return train_hybrid(version_id, budget_seconds=float(settings.MOVIEREC.get("HYBRID_MAX_SECONDS", 900.0)), ratings=ratings)
    except Exception as exc:
        logger.exception("v%s: hybrid fit failed; serving will use the plain collaborative model", version_id)
        return {"skipped": f"failed: {exc!r}"[:500]}


def fit_site_hybrid(
    movie_ids: np.ndarray,
    matrix: np.ndarray,
    users: np.ndarray,
    movies: np.ndarray,
    *,
    budget_seconds: float = 900.0,
    seed: int = 0,
    stamps: np.ndarray | None = None,
) -> tuple[HybridModel | None, dict]:
    """Fit in memory, no storage: columns are ``movie_ids`` (the embedding's rows), so hybrid
    column j is embedding row j. Ratings of films outside ``movie_ids`` are dropped.

    Returns ``(model, info)``, or ``(None, {"skipped": reason})`` when there is too little
    data or the budget cannot afford a fit on every film (the site must be able to
    recommend every film, so unlike ``recommend_offline`` the catalogue is never cut).
    """
    from recommendations.ml.budget import plan_hybrid

    started = time.perf_counter()
    movie_ids = np.asarray(movie_ids)  # int64 or ObjectIds (recommendations.ids)
    col_of = {m: j for j, m in enumerate(movie_ids.tolist())}
    cols = np.fromiter((col_of.get(m, -1) for m in np.asarray(movies).tolist()), dtype=np.int64, count=len(movies))
    keep = cols >= 0
    user_ids, rows = np.unique(np.asarray(users)[keep], return_inverse=True)
    cols = cols[keep]
    if len(rows) < MIN_RATINGS or len(user_ids) < MIN_USERS:
        return None, {"skipped": f"too few ratings ({len(rows)} from {len(user_ids)} users)"}
    # Rating times (one per rating) enable EASE's temporal co-occurrence term; serving needs none.
    times = np.asarray(stamps, dtype=np.float64)[keep] if stamps is not None else None
    if times is not None and (times.size == 0 or np.ptp(times) == 0):
        times = None
    plan = plan_hybrid(len(movie_ids), len(user_ids), budget_seconds - (time.perf_counter() - started), temporal=times is not None)
    if plan["max_items"] < len(movie_ids):
        return None, {"skipped": f"budget {budget_seconds:.0f} s < estimated {plan['estimate_seconds']:.0f} s for {len(movie_ids)} films"}
    model = HybridModel(seed=seed, k=max(1, min(10, len(movie_ids))), cold_repeats=plan["cold_repeats"])
    model.fit((rows, cols, np.ones(len(rows), np.float32)), np.asarray(matrix, dtype=np.float32), n_items=len(movie_ids), timestamps=times)
    return model, {
        "weights": describe_weights(model),
        "params": {k: round(v, 5) for k, v in model.params.items()},
        "films": len(movie_ids),
        "users": len(user_ids),
        "ratings": len(rows),
        "cold_repeats": plan["cold_repeats"],
        "estimate_seconds": plan["estimate_seconds"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def train_hybrid(
    version_id: int,
    *,
    budget_seconds: float = 900.0,
    ratings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Fit the hybrid on the site's ratings and the version's film vectors; store it.

    ``ratings`` is ``(user ids, movie ids, values, timestamps)``, by default every rating
    (``collab_store.ratings_arrays()``); pass e.g. the ratings up to the version's cutoff.

    Returns metadata for ``version.metrics["hybrid"]``: ``path`` (storage name), ``weights``
    (per bucket, keyed like ``hybrid_serving.DEFAULT_WEIGHTS``: cold/warm/active), ``params``,
    sizes and seconds; or ``{"skipped": reason}`` (see ``fit_site_hybrid``).
    """
    from recommendations.collab_store import ratings_arrays
    from recommendations.models import ModelVersion

    started = time.perf_counter()
    version = ModelVersion.objects.get(pk=version_id)
    if not version.embeddings_path:
        return {"skipped": f"v{version_id} has no film embedding yet"}
    arrays = store.load_npz(version.embeddings_path)
    movie_ids = ids_from_store(arrays["movie_ids"])
    users, movies, _values, stamps = ratings if ratings is not None else ratings_arrays()
    remaining = budget_seconds - (time.perf_counter() - started)
    model, info = fit_site_hybrid(movie_ids, arrays["matrix"], users, movies, budget_seconds=remaining, seed=version_id, stamps=stamps)
    if model is None:
        return info
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        payload = {key: npz[key] for key in npz.files}
    path = store.save_npz(hybrid_path(version_id), movie_ids=ids_to_store(movie_ids), **payload)
    return {"path": path, **info, "seconds": round(time.perf_counter() - started, 1)}


# HybridModel's bucket names -> the site's (hybrid_serving.DEFAULT_WEIGHTS)
SITE_BUCKETS = {"<=5": "cold", "6-20": "warm", ">20": "active"}


@dataclass
class LoadedHybrid:
    """A stored hybrid with what serving needs precomputed once per process."""

    model: HybridModel
    movie_ids: np.ndarray
    col_of: dict[int, int]  # movie id -> column: the ``movie_ids_index`` of hybrid_user_scores
    unit_vectors: np.ndarray | None  # (n, d) float32, unit rows
    pop_z: np.ndarray  # popularity z-scored over all films (the no-history ranking)
    pop32: np.ndarray  # popularity as float32, the per-user blend's term


def load_hybrid(path: str) -> LoadedHybrid:
    """Read ``hybrid.npz`` through the storage API."""
    arrays = store.load_npz(path)
    movie_ids = ids_from_store(arrays.pop("movie_ids"))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    model = HybridModel.load(buffer)
    return prepare(model, movie_ids)


def prepare(model: HybridModel, movie_ids: np.ndarray) -> LoadedHybrid:
    if model.popularity is None:
        raise ValueError("hybrid model is not fitted")
    # Contiguous float32 once, so per-request row sums and products do not convert.
    model.collab.weights = np.ascontiguousarray(model.collab.weights, dtype=np.float32)  # type: ignore[union-attr]
    vecs = None
    if model.item_vectors is not None:
        v = np.asarray(model.item_vectors, dtype=np.float32)
        vecs = np.ascontiguousarray(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))
    pop_z = zscore(model.popularity)
    ids = np.asarray(movie_ids)
    return LoadedHybrid(model, ids, {m: j for j, m in enumerate(ids.tolist())}, vecs, pop_z, model.popularity.astype(np.float32))


def _unseen_affine(values: np.ndarray, seen: np.ndarray) -> tuple[float, float]:
    """(mean, 1/std) over the films not in ``seen``, as HybridModel z-scores (std ≤ 1e-12 → 1).

    From whole-array sums minus the seen films' share, so no mask or unseen copy is built;
    sums in float64 (the scores are float32)."""
    n = values.shape[0] - seen.size
    if n <= 0:
        return 0.0, 0.0  # nothing unseen: the feature contributes nothing
    v64 = values.astype(np.float64)
    s = v64[seen]
    total_sq = float(v64 @ v64)
    mean = (float(v64.sum()) - float(s.sum())) / n
    var = (total_sq - float(s @ s)) / n - mean * mean
    std = float(np.sqrt(var)) if var > 0.0 and n > 1 else 0.0
    # The subtractions cancel: a spread this small next to the values' scale is rounding
    # (one unseen film, or all alike), and HybridModel's exact computation gives 0 there.
    if std <= 1e-6 * np.sqrt(total_sq / values.shape[0]):
        std = 0.0
    return mean, 1.0 / (std if std > 1e-12 else 1.0)


def profile_columns(loaded: LoadedHybrid, profile_movie_ids: Iterable[int]) -> np.ndarray:
    """Sorted hybrid columns of the user's rated films (films unknown to the hybrid dropped)."""
    cols = positions(loaded.col_of, profile_movie_ids)
    return np.unique(cols[cols >= 0])


def hybrid_user_scores(
    model: HybridModel | LoadedHybrid,
    movie_ids_index: Mapping[int, int],
    profile_movie_ids: Iterable[int],
    *,
    cols: np.ndarray | None = None,
) -> np.ndarray:
    """Blended hybrid scores over the model's columns for one user's rated films.

    Equal to ``HybridModel.score`` on the films the user has not rated; rated films get a
    finite score too (nothing is excluded here). Films unknown to ``movie_ids_index`` are
    ignored; a user with no known film gets the popularity ranking (z-scored).
    Pass a ``LoadedHybrid`` (``load_hybrid``/``prepare``) in serving: it caches unit vectors.
    ``cols``: the profile's sorted hybrid columns when the caller already has them.
    """
    loaded = model if isinstance(model, LoadedHybrid) else prepare(model, np.arange(model.popularity.shape[0]))  # type: ignore[union-attr]
    if cols is None and movie_ids_index is loaded.col_of:
        cols = profile_columns(loaded, profile_movie_ids)
    elif cols is None:
        cols = np.unique(np.fromiter((movie_ids_index[m] for m in profile_movie_ids if m in movie_ids_index), dtype=np.int64))
    if cols.size == 0:
        return loaded.pop_z.copy()
    hm = loaded.model
    weights = hm.weights[int(activity_bucket(np.array([cols.size]))[0])]
    # Each feature is z-scored over the unseen films and weighted: w·(f - mean)/std. The
    # features are summed as scale·f in float32 and the means subtracted once at the end:
    # HybridModel's float64, masked computation, in fewer passes over the catalogue.
    collab = _collab_row_sum(hm.collab.weights, cols)  # type: ignore[union-attr]
    mean, inv = _unseen_affine(collab, cols)
    out = np.multiply(collab, np.float32(weights[0] * inv))
    shift = weights[0] * inv * mean
    if weights[1] != 0.0 and loaded.unit_vectors is not None:
        v = loaded.unit_vectors
        taste = v[cols].sum(axis=0)
        norm = float(np.linalg.norm(taste))
        if norm > 1e-12:
            # A BLAS matvec: web workers run BLAS on one thread (movierec/wsgi.py), where it is several
            # times faster than einsum; with many BLAS threads on busy cores it would not be.
            content = v @ (taste / np.float32(norm))
            mean, inv = _unseen_affine(content, cols)
            content *= np.float32(weights[1] * inv)
            out += content
            shift += weights[1] * inv * mean
    if weights[2] != 0.0:
        mean, inv = _unseen_affine(loaded.pop32, cols)
        out += np.float32(weights[2] * inv) * loaded.pop32
        shift += weights[2] * inv * mean
    out -= np.float32(shift)
    return out


def _collab_row_sum(b: np.ndarray | sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
    """Sum of the rated films' rows of the collaborative matrix (float32, one pass over them)."""
    # As a one-row CSR product: b[cols].sum() first copied the rows (70 rated films: 2.7 MB;
    # the heaviest user here: 105 MB per request).
    x = sp.csr_matrix((np.ones(cols.size, np.float32), cols, np.array([0, cols.size])), shape=(1, b.shape[0]))
    out = x @ b
    return (out.toarray() if sp.issparse(out) else np.asarray(out)).ravel().astype(np.float32, copy=False)


def describe_weights(model: HybridModel) -> dict[str, dict[str, float]]:
    """Blend weights keyed by the site's bucket names and feature names."""
    return {SITE_BUCKETS[b]: dict(zip(FEATURES, map(float, model.weights[i]), strict=True)) for i, b in enumerate(SITE_BUCKETS)}


def attach_hybrid(bundle: store.Bundle, version) -> None:
    """Load the version's hybrid into a serving bundle (``store.load_bundle``; raises when unusable).

    Sets ``bundle.hybrid`` (LoadedHybrid) and ``bundle.hybrid_rows`` (hybrid column ->
    embedding row, -1 when the film left the catalogue).
    """
    info = (version.metrics or {}).get("hybrid") or {}
    if not info.get("path"):
        return
    loaded = load_hybrid(info["path"])
    # A truncated or mismatched artifact must fail here (serving then falls back), not per request.
    sizes = {*loaded.model.collab.weights.shape, loaded.model.popularity.shape[0]}  # type: ignore[union-attr]
    if loaded.unit_vectors is not None:
        sizes.add(loaded.unit_vectors.shape[0])
    if sizes != {len(loaded.movie_ids)} or loaded.model.weights.shape != (3, len(FEATURES)):
        raise ValueError(f"hybrid artifact of v{version.pk} is inconsistent: sizes {sizes} for {len(loaded.movie_ids)} films")
    attach_loaded(bundle, loaded)


def attach_loaded(bundle: store.Bundle, loaded: LoadedHybrid) -> None:
    """Serve ``bundle`` with a hybrid already in memory (also the evaluation's train-split fit)."""
    bundle.hybrid = loaded
    bundle.hybrid_rows = np.array([bundle.row_of.get(m, -1) for m in loaded.movie_ids.tolist()], dtype=np.int64)
    covered = np.unique(bundle.hybrid_rows[bundle.hybrid_rows >= 0])
    bundle.hybrid_complete = covered.size == len(bundle.movie_ids)
    n = len(bundle.movie_ids)
    bundle.hybrid_identity = bool(len(bundle.hybrid_rows) == n and np.array_equal(bundle.hybrid_rows, np.arange(n)))


def user_weights(loaded: LoadedHybrid, profile_movie_ids: Iterable[int]) -> dict[str, float]:
    """The blend weights (collab, content, popularity) that ``hybrid_user_scores`` uses for this profile."""
    n = len({as_key(m) for m in profile_movie_ids if m in loaded.col_of})
    weights = loaded.model.weights[int(activity_bucket(np.array([n]))[0])]
    return dict(zip(FEATURES, map(float, weights), strict=True))


def popularity_parts(loaded: LoadedHybrid, profile_movie_ids: Iterable[int], candidate_movie_ids: Iterable[int]) -> np.ndarray:
    """What the popularity term adds to each candidate's hybrid score for this profile (as
    ``hybrid_user_scores`` computes it; 0 for a film the hybrid does not know), so that an
    explanation can say when popularity, not the user's films, put a film on the list."""
    cols = profile_columns(loaded, profile_movie_ids)
    candidates = positions(loaded.col_of, list(candidate_movie_ids))
    out = np.zeros(len(candidates), dtype=np.float64)
    if cols.size == 0:
        return out
    weight = float(loaded.model.weights[int(activity_bucket(np.array([cols.size]))[0])][2])
    if weight == 0.0:
        return out
    mean, inv = _unseen_affine(loaded.pop32, cols)
    known = candidates >= 0
    out[known] = weight * inv * (loaded.pop32[candidates[known]].astype(np.float64) - mean)
    return out


def bundle_hybrid_scores(
    bundle: store.Bundle, profile_movie_ids: Iterable[int], content: np.ndarray, rated_rows: np.ndarray | None = None
) -> np.ndarray:
    """Hybrid scores laid out on the bundle's embedding rows (``rated_rows``: the profile's rows
    in the bundle, which are its hybrid columns when those are the embedding rows).

    Films embedded after the hybrid was trained (new films, no ratings) are not in it: they
    get their z-scored content similarity ``content`` (the engine's taste cosine), so new
    films still reach users through content.
    """
    loaded: LoadedHybrid = bundle.hybrid  # type: ignore[attr-defined]
    rows = bundle.hybrid_rows  # type: ignore[attr-defined]
    if bundle.hybrid_identity and rated_rows is not None:  # hybrid columns are the embedding rows, in order
        return hybrid_user_scores(loaded, loaded.col_of, (), cols=np.unique(rated_rows))
    scores = hybrid_user_scores(loaded, loaded.col_of, profile_movie_ids)
    if bundle.hybrid_identity:
        return scores
    valid = rows >= 0
    if bundle.hybrid_complete:  # every row is the hybrid's: ``content`` is not needed (nor computed)
        out = np.empty(len(bundle.movie_ids), dtype=np.float32)
        out[rows[valid]] = scores[valid]
        return out
    out = zscore(content)
    out[rows[valid]] = scores[valid]
    return out


def hybrid_because(loaded: LoadedHybrid, profile_movie_ids: Iterable[int], candidate_movie_ids: Iterable[int]) -> list[int | None]:
    """For each candidate, the rated film whose collaborative weight pushes it most
    ("popular with people who liked <film>"), or None when no rated film gives it a positive
    weight. One (rated x candidates) slice of the EASE matrix."""
    profile = [as_key(m) for m in profile_movie_ids if m in loaded.col_of]
    candidates = [as_key(m) for m in candidate_movie_ids]
    if not profile or not candidates:
        return [None] * len(candidates)
    rated_cols = np.array([loaded.col_of[m] for m in profile], dtype=np.int64)
    cand_cols = np.array([loaded.col_of.get(m, -1) for m in candidates], dtype=np.int64)
    b = loaded.model.collab.weights  # type: ignore[union-attr]
    block = np.asarray(b[np.ix_(rated_cols, np.maximum(cand_cols, 0))])
    best = np.argmax(block, axis=0)
    top = block[best, np.arange(len(candidates))]
    return [profile[int(i)] if c >= 0 and v > 0 else None for i, v, c in zip(best, top, cand_cols, strict=True)]

"""Model artifacts through Django's storage API, and the per-process serving bundle.

A serving process loads the active version's matrices once, then checks the
one-row ActiveModel pointer at most every POLL_SECONDS; a promotion, or a refresh
of the active version's film vectors, is picked up without a restart. A corrupt or missing artifact falls back to the last
good version and is logged.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from recommendations.ids import ids_from_store, ids_to_store
from recommendations.ml.hybrid import liking_prior
from recommendations.models import ActiveModel, ModelVersion

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0


def version_prefix(version_id: int) -> str:
    return f"{settings.MOVIEREC['ARTIFACT_PREFIX']}/v{version_id}"


def save_npz(path: str, **arrays: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    if default_storage.exists(path):
        default_storage.delete(path)
    return default_storage.save(path, ContentFile(buffer.getvalue()))


def delete_artifact(path: str) -> None:
    try:
        default_storage.delete(path)
    except Exception:  # a stale file left behind costs disk, not correctness
        logger.warning("could not delete artifact %s", path, exc_info=True)


def load_npz(path: str) -> dict[str, np.ndarray]:
    with default_storage.open(path, "rb") as handle:
        data = handle.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def save_embeddings(version_id: int, movie_ids: np.ndarray, matrix: np.ndarray, text_hashes: np.ndarray) -> str:
    """A new file each time: serving processes see a refresh as a new path (``active_bundle``),
    and one still loading the previous file is not cut off mid-read by an overwrite."""
    return save_npz(
        f"{version_prefix(version_id)}/embeddings-{uuid.uuid4().hex[:12]}.npz",
        movie_ids=ids_to_store(movie_ids),  # strings: ObjectIds do not fit in int64
        matrix=matrix.astype(np.float32),
        text_hashes=text_hashes.astype("U16"),
    )


@dataclass
class Bundle:
    """Everything a serving process needs from one model version, loaded once."""

    version_id: int
    movie_ids: np.ndarray
    matrix: np.ndarray  # (n_films, d) float32, L2-normalised rows
    row_of: dict[int, int]
    collab: object | None = None  # recommendations.ml.collab.CollabModel
    collab_rows: np.ndarray | None = None  # collab item index -> embedding row
    blend: dict = field(default_factory=dict)
    popularity: np.ndarray | None = None  # per embedding row: popularity_prior
    hybrid: object | None = None  # recommendations.hybrid_store.LoadedHybrid; replaces collab when set
    hybrid_rows: np.ndarray | None = None  # hybrid column -> embedding row
    hybrid_complete: bool = False  # the hybrid scores every embedding row (no film embedded since)
    hybrid_identity: bool = False  # ... and its columns are the embedding rows in order
    films: dict = field(default_factory=dict)  # movie id -> (loaded_at, Movie): engine's film-card cache
    filters: dict = field(default_factory=dict)  # (genre, decade) -> (loaded_at, film ids): engine's filter cache


def load_bundle(version: ModelVersion) -> Bundle:
    arrays = load_npz(version.embeddings_path)
    movie_ids = ids_from_store(arrays["movie_ids"])
    matrix = np.ascontiguousarray(arrays["matrix"], dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != movie_ids.shape[0]:
        raise ValueError(f"artifact of v{version.pk} is inconsistent: {matrix.shape} vs {movie_ids.shape}")
    bundle = Bundle(version.pk, movie_ids, matrix, {m: i for i, m in enumerate(movie_ids.tolist())})
    bundle.popularity = _popularity(movie_ids)
    _attach_ratings_model(bundle, version)
    return bundle


def _attach_ratings_model(bundle: Bundle, version: ModelVersion) -> None:
    """The version's learnt hybrid, else its plain EASE, else nothing (content + popularity).

    Only one is held: each carries an n_films x n_films matrix. A corrupt or missing one is
    logged and skipped, since the film vectors alone still serve every user.
    """
    from recommendations import hybrid_store
    from recommendations.collab_store import attach_collab

    if ((version.metrics or {}).get("hybrid") or {}).get("path"):
        try:
            hybrid_store.attach_hybrid(bundle, version)
            return
        except Exception:
            bundle.hybrid, bundle.hybrid_rows, bundle.hybrid_complete, bundle.hybrid_identity = None, None, False, False
            logger.exception("hybrid artifact of v%s is missing or corrupt; serving without it", version.pk)
    if version.collab_path:
        try:
            attach_collab(bundle, version)
        except Exception:
            bundle.collab, bundle.collab_rows = None, None
            logger.exception("collaborative artifact of v%s is missing or corrupt; serving content only", version.pk)


def rating_midpoint() -> float:
    from catalog.models import RATING_MAX, RATING_MIN

    return (RATING_MIN + RATING_MAX) / 2


def _popularity(movie_ids: np.ndarray) -> np.ndarray:
    """The site's prior for each row, from the films' rating counters."""
    from catalog.models import Movie

    return popularity_prior(movie_ids, {pk: (n, total) for pk, n, total in Movie.objects.values_list("pk", "rating_count", "rating_sum")})


def popularity_prior(movie_ids: np.ndarray, counters: dict) -> np.ndarray:
    """``ml.hybrid.liking_prior`` per row from ``counters``: movie id -> (ratings, their sum);
    films without ratings count as none. Serving and the promotion gate (its train part) share it."""
    counts, sums = np.array([counters.get(m, (0, 0.0)) for m in movie_ids.tolist()], dtype=np.float64).reshape(-1, 2).T
    return liking_prior(counts, sums, rating_midpoint())


class _ServingState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bundle: Bundle | None = None
        self.pointer: tuple[int, str] | None = None
        self.checked_at = 0.0

    def reset(self) -> None:
        with self.lock:
            self.bundle, self.pointer, self.checked_at = None, None, 0.0


_state = _ServingState()


def reset_cache() -> None:
    _state.reset()


def active_version_id() -> int | None:
    return ActiveModel.objects.singleton().values_list("version_id", flat=True).first()


def _active_pointer() -> tuple[int, str] | None:
    """The active version and its embeddings file: a refresh of the same version (new or edited
    films embedded) writes a new file, so it is picked up like a promotion."""
    version_id = active_version_id()
    if version_id is None:
        return None
    path = ModelVersion.objects.filter(pk=version_id).values_list("embeddings_path", flat=True).first()
    return version_id, path or ""


def active_bundle() -> Bundle | None:
    """The serving bundle for this process, refreshed when the active pointer or its film vectors change."""
    now = time.monotonic()
    if _state.bundle is not None and now - _state.checked_at < POLL_SECONDS:
        return _state.bundle
    pointer = _active_pointer()
    with _state.lock:
        _state.checked_at = now
        if pointer is None:
            _state.bundle, _state.pointer = None, None
            return None
        if pointer == _state.pointer and _state.bundle is not None:
            return _state.bundle
        _state.pointer = pointer
        _state.bundle = _load_with_fallback(pointer[0], _state.bundle)
        return _state.bundle


def _load_with_fallback(pointer: int, current: Bundle | None) -> Bundle | None:
    version = ModelVersion.objects.filter(pk=pointer).first()
    if version is not None:
        try:
            return load_bundle(version)
        except Exception:
            logger.exception("artifact of active model v%s is missing or corrupt; falling back", pointer)
    if current is not None:
        return current
    candidates = ModelVersion.objects.exclude(pk=pointer).exclude(embeddings_path="").filter(
        status__in=[ModelVersion.Status.READY, ModelVersion.Status.ACTIVE, ModelVersion.Status.REJECTED]
    ).order_by("-finished_at", "-pk")
    for candidate in candidates:
        if candidate.status == ModelVersion.Status.REJECTED:
            continue
        try:
            bundle = load_bundle(candidate)
            logger.warning("serving fallback model v%s", candidate.pk)
            return bundle
        except Exception:
            logger.exception("fallback v%s is unusable too", candidate.pk)
    return None

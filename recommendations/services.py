"""Writes for the recommendation engine: embeddings, model versions and promotion."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.utils import timezone

from catalog.selectors import movie_base_queryset
from movierec.mongo import atomic
from recommendations import store
from recommendations.encoders import get_encoder
from recommendations.ids import id_array, ids_from_store
from recommendations.ml.text import FilmDoc, film_text
from recommendations.models import SINGLETON_SLOT, ActiveModel, ModelVersion

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


def film_doc(movie) -> FilmDoc:
    credits = list(movie.credits.all())
    return FilmDoc(
        title=movie.title,
        year=movie.year,
        genres=[g.name for g in movie.genres.all()],
        directors=[c.person.name for c in credits if c.role == "director"],
        cast=[c.person.name for c in credits if c.role == "cast"],
        tags=movie.tag_list,
        overview=movie.overview,
    )


def catalogue_texts() -> tuple[np.ndarray, list[str]]:
    movies = list(movie_base_queryset().order_by("pk"))
    return id_array(m.pk for m in movies), [film_text(film_doc(m)) for m in movies]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def embed_catalogue(version: ModelVersion, *, only_changed: bool = False, progress: Progress | None = None) -> dict:
    """Embed every film with the version's encoder and store the matrix as its artifact.

    With only_changed, rows whose film text is unchanged are reused from the
    version's current artifact, so only new and edited films are encoded.
    """
    started = timezone.now()  # films saved from here on may be read before their edit: embedded again next time
    movie_ids, texts = catalogue_texts()
    hashes = np.array([text_hash(t) for t in texts], dtype="U16")
    dim = 384
    matrix = np.zeros((len(texts), dim), dtype=np.float32)
    todo = np.arange(len(texts))
    if only_changed and version.embeddings_path:
        try:
            old = store.load_npz(version.embeddings_path)
            old_ids = ids_from_store(old["movie_ids"]).tolist()
            old_rows = {(m, str(h)): i for i, (m, h) in enumerate(zip(old_ids, old["text_hashes"], strict=True))}
            reuse = [(i, old_rows.get((m, str(h)))) for i, (m, h) in enumerate(zip(movie_ids.tolist(), hashes, strict=True))]
            for i, j in reuse:
                if j is not None:
                    matrix[i] = old["matrix"][j]
            todo = np.array([i for i, j in reuse if j is None], dtype=np.int64)
        except Exception:
            logger.warning("could not reuse v%s embeddings; re-embedding all", version.pk, exc_info=True)
    if len(todo):
        encoder = get_encoder(version.encoder_path)
        matrix[todo] = encoder.embed(
            [texts[i] for i in todo], batch_size=settings.MOVIEREC["EMBED_BATCH_SIZE"], progress=progress
        )
    elif progress:
        progress(0, 0)
    path = store.save_embeddings(version.pk, movie_ids, matrix, hashes)
    previous = version.embeddings_path
    data_counts = {**(version.data_counts or {}), "embedded_at": started.isoformat()}
    ModelVersion.objects.filter(pk=version.pk).update(embeddings_path=path, data_counts=data_counts)
    version.embeddings_path, version.data_counts = path, data_counts
    if previous and previous != path:
        store.delete_artifact(previous)  # serving processes holding it loaded it whole, at load
    return {"films": len(texts), "embedded": len(todo)}


@atomic
def model_version_promote(version: ModelVersion, *, reason: str = "") -> ModelVersion:
    """Make `version` the one active model: a single pointer write, inside one transaction."""
    if not version.embeddings_path:
        raise ValueError(f"v{version.pk} has no embeddings artifact")
    pointer, _ = ActiveModel.objects.select_for_update().get_or_create(slot=SINGLETON_SLOT)
    previous = pointer.version_id
    if previous and previous != version.pk:
        ModelVersion.objects.filter(pk=previous, status=ModelVersion.Status.ACTIVE).update(status=ModelVersion.Status.READY)
    pointer.version = version
    pointer.save()
    # The new reason goes above the old ones, not over them: a roll-back keeps the gate's verdict.
    history = f"{reason}\n{version.reason}" if reason and version.reason and reason not in version.reason else reason or version.reason
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.ACTIVE, reason=history, finished_at=version.finished_at or timezone.now()
    )
    version.refresh_from_db()
    return version


def model_version_create(*, parent: ModelVersion | None = None, encoder_path: str = "", status: str = ModelVersion.Status.QUEUED) -> ModelVersion:
    return ModelVersion.objects.create(parent=parent, encoder_path=encoder_path, status=status)


def active_pointer() -> ActiveModel | None:
    """The one-row pointer at the serving version, with that version."""
    return ActiveModel.objects.singleton().select_related("version").first()


def active_version() -> ModelVersion | None:
    pointer = active_pointer()
    return pointer.version if pointer else None


def bootstrap_base_version(progress: Progress | None = None) -> ModelVersion:
    """First model: the verified base encoder's embeddings, promoted at once."""
    version = model_version_create(status=ModelVersion.Status.TRAINING)
    ModelVersion.objects.filter(pk=version.pk).update(started_at=timezone.now())
    counts = embed_catalogue(version, progress=progress)
    collab_path = ""
    from recommendations.collab_store import ratings_arrays, train_collab

    users, movies, values, stamps = ratings_arrays()
    if len(np.unique(users)) >= 2 and len(np.unique(movies)) >= 2:
        collab = train_collab(version.pk, users, movies)
        collab_path, counts["collab"] = collab["path"], {k: v for k, v in collab.items() if k != "path"}
        counts["ratings"] = len(users)
    from recommendations.hybrid_store import train_hybrid_or_skip  # never blocks the first start

    metrics = {"hybrid": train_hybrid_or_skip(version.pk, (users, movies, values, stamps))}
    ModelVersion.objects.filter(pk=version.pk).update(
        data_counts=counts, collab_path=collab_path, metrics=metrics, finished_at=timezone.now(), reason="base model (no fine-tuning)"
    )
    version.refresh_from_db()
    return model_version_promote(version, reason="base model (no fine-tuning)")

"""The collaborative model as a version artifact: training from site ratings and serving."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from catalog.models import Rating
from recommendations import store
from recommendations.ml.collab import CollabModel, fit_collab


def ratings_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, movie ids, values, unix timestamps) of every rating, in time order."""
    rows = list(Rating.objects.order_by("updated_at", "pk").values_list("user_id", "movie_id", "value", "updated_at"))
    users = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    movies = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((r[2] for r in rows), dtype=np.float32, count=len(rows))
    stamps = np.fromiter((r[3].timestamp() for r in rows), dtype=np.float64, count=len(rows))
    return users, movies, values, stamps


def train_collab(version_id: int, users: np.ndarray, movies: np.ndarray, *, lam: float | None = None) -> dict:
    """Fit EASE (or RP3beta above 20k films) on the given interactions and store it."""
    item_ids = np.unique(movies)
    user_ids = np.unique(users)
    u = np.searchsorted(user_ids, users)
    i = np.searchsorted(item_ids, movies)
    model = fit_collab((u, i, np.ones(len(u), np.float32)), len(item_ids), lam=lam)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "collab.npz"
        model.save(path)
        name = f"{store.version_prefix(version_id)}/collab.npz"
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(path.read_bytes()))
    store.save_npz(f"{store.version_prefix(version_id)}/collab_index.npz", movie_ids=item_ids)
    return {"path": saved, "kind": model.kind, "items": len(item_ids), "params": model.params}


def attach_collab(bundle: store.Bundle, version) -> None:
    with default_storage.open(version.collab_path, "rb") as handle:
        model = CollabModel.load(io.BytesIO(handle.read()))
    index = store.load_npz(f"{store.version_prefix(version.pk)}/collab_index.npz")["movie_ids"]
    bundle.collab = model
    # collab column -> embedding row (-1 when the film left the catalogue)
    bundle.collab_rows = np.array([bundle.row_of.get(int(m), -1) for m in index], dtype=np.int64)
    bundle.collab_col_of = {int(m): c for c, m in enumerate(index)}  # type: ignore[attr-defined]
    bundle.blend = (version.metrics or {}).get("blend_weights", {})


def collab_scores(bundle: store.Bundle, profile, rated_rows: np.ndarray) -> np.ndarray:
    """Collaborative scores laid out on embedding rows; films unknown to it score 0."""
    cols = [bundle.collab_col_of[m] for m in profile.movie_ids if m in bundle.collab_col_of]  # type: ignore[attr-defined]
    out = np.zeros(len(bundle.movie_ids), dtype=np.float32)
    if not cols:
        return out
    x = sp.csr_matrix((np.ones(len(cols), np.float32), (np.zeros(len(cols), int), cols)), shape=(1, bundle.collab.n_items))
    scores = bundle.collab.scores(x)[0]
    valid = bundle.collab_rows >= 0
    out[bundle.collab_rows[valid]] = scores[valid]
    return out

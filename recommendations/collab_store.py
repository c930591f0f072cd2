"""The collaborative model as a version artifact: training from site ratings and serving."""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from catalog.models import Rating
from recommendations import store
from recommendations.ids import id_array, ids_from_store, ids_to_store
from recommendations.ml.collab import CollabModel, fit_collab


def ratings_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, movie ids, values, unix timestamps) of every rating, in time order."""
    rows = list(Rating.objects.order_by("updated_at", "pk").values_list("user_id", "movie_id", "value", "updated_at"))
    users = id_array(r[0] for r in rows)  # int64 on SQL, ObjectIds on MongoDB
    movies = id_array(r[1] for r in rows)
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
    store.save_npz(f"{store.version_prefix(version_id)}/collab_index.npz", movie_ids=ids_to_store(item_ids))
    # NaN (e.g. a validation score with no validation user) is not valid JSON for the version's records.
    params = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in model.params.items()}
    return {"path": saved, "kind": model.kind, "items": len(item_ids), "params": params}


def attach_collab(bundle: store.Bundle, version) -> None:
    with default_storage.open(version.collab_path, "rb") as handle:
        model = CollabModel.load(io.BytesIO(handle.read()))
    index = ids_from_store(store.load_npz(f"{store.version_prefix(version.pk)}/collab_index.npz")["movie_ids"]).tolist()
    bundle.collab = model
    # collab column -> embedding row (-1 when the film left the catalogue)
    bundle.collab_rows = np.array([bundle.row_of.get(m, -1) for m in index], dtype=np.int64)
    bundle.collab_col_of = {m: c for c, m in enumerate(index)}  # type: ignore[attr-defined]
    bundle.blend = (version.metrics or {}).get("blend_weights", {})


def _collab_lookup(bundle: store.Bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(collab movie ids sorted, their columns, columns that have an embedding row, those rows), once per bundle."""
    cached = getattr(bundle, "_collab_lookup", None)
    if cached is None:
        col_of = bundle.collab_col_of  # type: ignore[attr-defined]
        ids = id_array(col_of.keys())
        cols = np.fromiter(col_of.values(), dtype=np.int64, count=len(col_of))
        order = np.argsort(ids)
        valid = np.flatnonzero(bundle.collab_rows >= 0)
        cached = (ids[order], cols[order], valid, bundle.collab_rows[valid])
        bundle._collab_lookup = cached  # type: ignore[attr-defined]  # idempotent: a race only builds it twice
    return cached


def collab_scores(bundle: store.Bundle, profile, rated_rows: np.ndarray) -> np.ndarray:
    """Collaborative scores laid out on embedding rows; films unknown to it score 0.

    Vectorised lookups and a single CSR row: the per-call Python loop and scipy conversions cost
    more than the product itself on a 10k-film catalogue.
    """
    ids, cols_sorted, valid, rows = _collab_lookup(bundle)
    out = np.zeros(len(bundle.movie_ids), dtype=np.float32)
    movie_ids = np.asarray(profile.movie_ids)
    if not len(ids) or not len(movie_ids):
        return out
    pos = np.minimum(np.searchsorted(ids, movie_ids), len(ids) - 1)
    cols = np.sort(cols_sorted[pos[ids[pos] == movie_ids]])  # sorted like a COO-built row: same sums
    if not len(cols):
        return out
    model = bundle.collab
    x = sp.csr_matrix((np.ones(len(cols), np.float32), cols, np.array([0, len(cols)])), shape=(1, model.n_items))
    if isinstance(model.weights, np.ndarray):  # dense EASE: one pass over the rated films' rows
        scores = np.asarray(x @ model.weights, dtype=np.float32).reshape(-1)
    else:
        scores = model.scores(x)[0]
    out[rows] = scores[valid]
    return out

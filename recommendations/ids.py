"""Film and user ids in numpy arrays and in stored artifacts, for integer and ObjectId keys alike.

In memory an id array holds the ORM's own key values, so they compare and hash equal to what
queries return: int64 on SQL (fast, as before), an object array of ``bson.ObjectId`` on MongoDB
(ObjectIds order and compare, so ``np.unique``/``argsort``/``searchsorted``/``isin`` still work).

In artifacts (``.npz``) ids are strings (``str(pk)``; numpy unicode): an ObjectId does not fit in
an int64 and ``np.load(allow_pickle=False)`` cannot read object arrays. Artifacts written
before this change hold int64 ids; they still load, as integers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

INTEGER_KEY_TYPES = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField"}


def id_array(values: Iterable[Any]) -> np.ndarray:
    """Ids as a 1-d array: int64 when they are all integers (SQL keys), else dtype=object (ObjectIds)."""
    items = list(values)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        return np.array(items, dtype=np.int64)
    out = np.empty(len(items), dtype=object)  # np.array() could try to unpack the items
    out[:] = items
    return out


def ids_to_store(ids: Iterable[Any]) -> np.ndarray:
    """Ids for an ``.npz`` artifact: their strings (digits on SQL, 24 hex digits on MongoDB)."""
    items = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    return np.array([str(v) for v in items], dtype=str) if items else np.zeros(0, dtype="U24")


def _movie_pk_field() -> Any:
    from catalog.models import Movie

    return Movie._meta.pk


def ids_from_store(stored: np.ndarray, pk_field: Any = None) -> np.ndarray:
    """Stored ids back as the ORM's key values (``pk_field.to_python``; the film's key by default).

    Old artifacts (int64) load unchanged. Raises ValidationError when a stored id is not a key
    of this database (e.g. an SQL artifact served from MongoDB): the bundle loader then falls back.
    """
    field = pk_field if pk_field is not None else _movie_pk_field()
    if stored.dtype.kind in "iu":
        if field.get_internal_type() not in INTEGER_KEY_TYPES:
            from django.core.exceptions import ValidationError

            raise ValidationError("integer ids in an artifact, but this database's keys are not integers")
        return stored.astype(np.int64)
    if field.get_internal_type() in INTEGER_KEY_TYPES:
        return stored.astype(np.int64)  # vectorised: digit strings parse directly
    to_python: Callable[[Any], Any] = field.to_python
    return id_array(to_python(str(s)) for s in stored.tolist())


def positions(index: Mapping[Any, int], ids: Iterable[Any]) -> np.ndarray:
    """Each id's position in ``index`` (an id -> row/column dict), -1 for ids it does not hold."""
    keys = ids.tolist() if isinstance(ids, np.ndarray) else ids
    return np.array([index.get(m, -1) for m in keys], dtype=np.int64)


def as_key(value: Any) -> Any:
    """One element of an id array as a plain key: a Python int (not np.int64) or the ObjectId itself."""
    return value.item() if isinstance(value, np.generic) else value


def run_starts(sorted_ids: np.ndarray) -> np.ndarray:
    """Indices where a new id starts in a sorted id array (np.diff cannot subtract ObjectIds)."""
    return np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1


def dense_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct ids sorted, each id's position in them): integer codes for code that needs int64 ids."""
    distinct, codes = np.unique(ids, return_inverse=True)
    return distinct, codes.astype(np.int64).reshape(-1)


def no_id(like: np.ndarray) -> Any:
    """The padding for "no film" in an id array like `like`: -1 among int64 ids, None among ObjectIds."""
    return None if like.dtype == object else -1


def is_id(value: Any) -> bool:
    """False for the padding of no_id()."""
    return value is not None and not (isinstance(value, int | np.integer) and value < 0)

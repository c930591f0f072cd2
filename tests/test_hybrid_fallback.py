"""Serving without a usable hybrid: older versions keep their EASE blend, a broken hybrid
artifact falls back to EASE, and with both broken the film vectors alone still serve."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from django.core.files.storage import default_storage

from recommendations import engine, hybrid_store, store
from recommendations.collab_store import ratings_arrays, train_collab
from recommendations.models import ModelVersion
from tests.celery_worker import fake_active_version, make_small_site
from tests.factories import UserFactory


@pytest.fixture
def site(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    films = make_small_site()["films"]
    version = fake_active_version("genre")
    users, movies, _values, _stamps = ratings_arrays()
    collab_path = train_collab(version.pk, users, movies, lam=50.0)["path"]
    ModelVersion.objects.filter(pk=version.pk).update(collab_path=collab_path)
    version.refresh_from_db()
    return version, films


def with_hybrid(version: ModelVersion) -> ModelVersion:
    info = hybrid_store.train_hybrid(version.pk, budget_seconds=120)
    assert "path" in info, info
    ModelVersion.objects.filter(pk=version.pk).update(metrics={"hybrid": info})
    version.refresh_from_db()
    store.reset_cache()
    return version


def overwrite(path: str, data: bytes) -> None:
    default_storage.delete(path)
    with default_storage.open(path, "wb") as handle:
        handle.write(data)


def horror_fan_recs(films: dict[str, list[int]]) -> list[engine.Rec]:
    from catalog.models import Movie
    from catalog.services import rating_upsert

    user = UserFactory(username="newcomer")
    for movie in Movie.objects.filter(pk__in=films["Horror"][:3]):
        rating_upsert(user=user, movie=movie, value=5.0)
    return engine.recommend_for_user(user, k=10)


def assert_served(recs: list[engine.Rec], version: ModelVersion, films: dict[str, list[int]]) -> None:
    assert len(recs) == 10 and all(r.version_id == version.pk and r.why for r in recs)
    assert not {r.movie_id for r in recs} & set(films["Horror"][:3])


def test_version_without_hybrid_serves_its_collaborative_blend(site) -> None:
    version, films = site
    recs = horror_fan_recs(films)
    bundle = store.active_bundle()
    assert bundle.version_id == version.pk and bundle.hybrid is None and bundle.collab is not None
    assert_served(recs, version, films)


def test_version_with_hybrid_holds_only_the_hybrid(site) -> None:
    version, films = site
    with_hybrid(version)
    recs = horror_fan_recs(films)
    bundle = store.active_bundle()
    assert bundle.hybrid is not None and bundle.collab is None
    assert_served(recs, version, films)


@pytest.mark.parametrize("damage", ["garbage", "missing", "wrong sizes"])
def test_broken_hybrid_artifact_falls_back_to_collaborative(site, caplog, damage) -> None:
    version, films = with_hybrid(site[0]), site[1]
    path = version.metrics["hybrid"]["path"]
    if damage == "garbage":
        overwrite(path, b"not an npz")
    elif damage == "missing":
        default_storage.delete(path)
    else:  # a valid archive whose film index does not match its matrices
        arrays = store.load_npz(path)
        store.save_npz(path, **{**arrays, "movie_ids": arrays["movie_ids"][:-1]})

    with caplog.at_level(logging.ERROR, logger="recommendations.store"):
        recs = horror_fan_recs(films)

    bundle = store.active_bundle()
    assert bundle.version_id == version.pk  # the same version, not an older one
    assert bundle.hybrid is None and bundle.collab is not None
    assert f"hybrid artifact of v{version.pk} is missing or corrupt" in caplog.text
    assert_served(recs, version, films)


def test_hybrid_and_collaborative_both_broken_serves_content_only(site, caplog) -> None:
    version, films = with_hybrid(site[0]), site[1]
    overwrite(version.metrics["hybrid"]["path"], b"\x00" * 64)
    overwrite(version.collab_path, b"not an npz either")

    with caplog.at_level(logging.ERROR, logger="recommendations.store"):
        recs = horror_fan_recs(films)

    bundle = store.active_bundle()
    assert bundle.version_id == version.pk and bundle.hybrid is None and bundle.collab is None
    assert f"collaborative artifact of v{version.pk} is missing or corrupt" in caplog.text
    assert_served(recs, version, films)
    # Content alone still finds the user's genre first (genre-aligned film vectors).
    assert {r.movie_id for r in recs[:3]} <= set(films["Horror"])
    assert np.isfinite([r.score for r in recs]).all()

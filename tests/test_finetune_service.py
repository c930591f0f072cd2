"""The fine-tune stage as a service: split, pairs, heartbeat and progress, new weights, lower loss."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from catalog.models import Movie, Rating
from recommendations import training
from recommendations.models import ModelVersion, TrainingState
from tests.celery_worker import TINY_BUDGET, fake_active_version, make_small_site
from tests.factories import UserFactory

Status = ModelVersion.Status


@pytest.fixture
def site(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return make_small_site()


def test_split_holds_out_each_users_most_recent_ratings(site):
    light = UserFactory(username="light")
    film = Movie.objects.first()
    Rating.objects.create(user=light, movie=film, value=4.0, created_at=timezone.now(), updated_at=timezone.now())

    split = training.build_split()

    assert light.pk not in split.heldout  # fewer than MIN_RATINGS: everything trains
    for user in site["users"]:
        mine = split.users == user
        stamps, movies = split.stamps[mine], split.movies[mine]
        held = ~split.train[mine]
        assert held.sum() == 2 == len(split.heldout[user])  # round(0.2 * 8)
        assert stamps[held].min() > stamps[~held].max()  # strictly the most recent
        assert set(movies[held]) == set(split.heldout[user])
    assert split.counts() == {"ratings": 161, "users": 21, "train_ratings": 121, "heldout_ratings": 40, "eval_users": 20}


def test_cutoff_excludes_later_ratings(site):
    cutoff = timezone.now()
    user = UserFactory(username="late")
    later = cutoff + timedelta(minutes=5)
    Rating.objects.create(user=user, movie=Movie.objects.first(), value=5.0, created_at=later, updated_at=later)
    assert user.pk not in training.build_split(cutoff.timestamp()).users
    assert user.pk in training.build_split().users


def test_pairs_come_from_the_train_part_only(site):
    secret = Movie.objects.create(title="Secret Horror", year=2001, overview="A horror film nobody has trained on.")
    now = timezone.now()
    for i, user in enumerate(site["users"]):
        # Everyone's most recent rating: always held out.
        Rating.objects.create(
            user_id=user, movie=secret, value=5.0, created_at=now + timedelta(seconds=i), updated_at=now + timedelta(seconds=i)
        )
    split = training.build_split()
    texts = training.catalogue_text_map()

    pairs, counts = training.training_pairs(split, texts, max_pairs=200)

    assert counts["co_liked"] > 0 and counts["next_liked"] > 0 and counts["pairs"] == len(pairs)
    assert all(texts[secret.pk] not in pair for pair in pairs)
    assert all(a != b for a, b in pairs) and len(set(pairs)) == len(pairs)
    assert any(texts[secret.pk] == p for _a, p in training.validation_pairs(split, texts))


@pytest.mark.slow
def test_fine_tune_stage_changes_weights_lowers_loss_and_reports(site):
    """Real TensorFlow, 3 steps of batch 8 at max_length 32 (~30 s, most of it tracing)."""
    from recommendations.encoders import local_encoder_dir
    from recommendations.ml.encoder import Encoder
    from recommendations.ml.finetune import pair_loss

    active = fake_active_version("random")
    version = training.start_version(reason="test", budget=TINY_BUDGET)
    assert TrainingState.objects.singleton().get().lock_owner == f"v{version.pk}"

    assert training.fine_tune_version(version.pk, task_id="task-1") == version.pk

    version.refresh_from_db()
    assert version.status == Status.TRAINING and version.parent_id == active.pk
    assert version.encoder_path == f"models/v{version.pk}/encoder"
    assert len(version.loss_curve) == 3 and all(np.isfinite(version.loss_curve))
    assert version.progress == pytest.approx(0.6) and version.progress_message == "fine-tune: done"
    assert version.heartbeat_at is not None and version.started_at is not None
    ft = version.metrics["finetune"]
    assert ft["steps"] == 3 and ft["stopped"] == "max_steps"
    assert ft["loss_after"]["train_pairs"] < ft["loss_before"]["train_pairs"]
    assert {"validation_pairs"} <= set(ft["loss_before"])
    counts = version.data_counts
    assert counts["pairs"] >= 16 and counts["train_ratings"] == 120 and counts["eval_users"] == 20
    # The stage hands the lock back to the chain for the next stage.
    assert TrainingState.objects.singleton().get().lock_owner == f"v{version.pk}"

    # Independently of what the stage reported: new weights, lower loss on its own training pairs.
    split = training.build_split(counts["cutoff"])
    pairs, _ = training.training_pairs(split, training.catalogue_text_map(), max_pairs=TINY_BUDGET["max_pairs"], seed=version.pk)
    base, tuned = Encoder.load(), Encoder.load(local_encoder_dir(version.encoder_path))
    texts = [a for a, _ in pairs[:8]]
    assert not np.allclose(base.embed(texts, max_length=32), tuned.embed(texts, max_length=32), atol=1e-4)
    assert pair_loss(tuned, pairs, batch_size=8, max_length=32) < pair_loss(base, pairs, batch_size=8, max_length=32)

    # Idempotent: running the stage again does not train again.
    assert training.fine_tune_version(version.pk, task_id="task-2") == version.pk
    assert ModelVersion.objects.get(pk=version.pk).loss_curve == version.loss_curve

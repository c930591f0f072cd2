"""Evaluate-and-promote: a candidate made worse on purpose is refused; a good one is promoted atomically.

No TensorFlow here: candidate embeddings are made up (genre-aligned = good,
random = worse on purpose), so the gate itself is what is tested.
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import pytest

from recommendations import services, store, training
from recommendations.models import ActiveModel, ModelVersion, TrainingState
from tests.celery_worker import fake_active_version, fake_matrix, make_small_site

Status = ModelVersion.Status


@pytest.fixture
def site(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return make_small_site()


def candidate_with(kind: str, *, seed: int = 1) -> ModelVersion:
    """A version that went through fine-tune and refresh, with made-up embeddings."""
    version = training.start_version(reason="test")
    ids, texts = services.catalogue_texts()
    hashes = np.array([services.text_hash(t) for t in texts], dtype="U16")
    path = store.save_embeddings(version.pk, ids, fake_matrix(kind, ids, seed=seed), hashes)
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.TRAINING, encoder_path="made-up", embeddings_path=path)
    return ModelVersion.objects.get(pk=version.pk)


@pytest.mark.parametrize("train_collab", [True, False], ids=["hybrid", "content"])
def test_refuses_a_candidate_made_worse_on_purpose(site, settings, train_collab):
    settings.MOVIEREC = {**settings.MOVIEREC, "TRAIN_COLLAB": train_collab, "PROMOTE_TOLERANCE": 0.005}
    active = fake_active_version("genre")
    before = store.load_npz(active.embeddings_path)["matrix"].copy()
    candidate = candidate_with("random")

    assert training.evaluate_version(candidate.pk) is None

    candidate.refresh_from_db()
    assert candidate.status == Status.REJECTED
    assert candidate.reason.startswith("worse than the active version: ndcg@10")
    m = candidate.metrics
    assert m["decision"] == "reject" and m["scorer"] == ("hybrid" if train_collab else "content")
    assert m["baseline"]["version"] == active.pk
    assert m["ndcg@10"] < m["baseline"]["ndcg@10"] - 0.005
    assert 0 <= m["recall@10"] <= 1 and m["eval_users"] == 20
    # The active version is untouched and still the one being served.
    assert ActiveModel.objects.singleton().get().version_id == active.pk
    assert ModelVersion.objects.get(pk=active.pk).status == Status.ACTIVE
    np.testing.assert_array_equal(store.load_npz(active.embeddings_path)["matrix"], before)
    assert TrainingState.objects.singleton().get().lock_owner == ""
    # The active version got its own numbers on the same split, for the chart across versions.
    assert ModelVersion.objects.get(pk=active.pk).metrics["ndcg@10"] == m["baseline"]["ndcg@10"]


def test_promotes_an_equal_candidate_and_serving_follows_without_restart(site):
    active = fake_active_version("genre")
    serving = store.active_bundle()
    assert serving is not None and serving.version_id == active.pk
    candidate = candidate_with("genre", seed=0)  # the same vectors: delta 0, within tolerance

    assert training.evaluate_version(candidate.pk) == candidate.pk

    candidate.refresh_from_db()
    assert candidate.status == Status.ACTIVE and candidate.metrics["decision"] == "promote"
    assert candidate.metrics["ndcg@10"] == pytest.approx(candidate.metrics["baseline"]["ndcg@10"])
    assert ActiveModel.objects.singleton().get().version_id == candidate.pk
    assert list(ModelVersion.objects.filter(status=Status.ACTIVE).values_list("pk", flat=True)) == [candidate.pk]
    assert ModelVersion.objects.get(pk=active.pk).status == Status.READY
    assert TrainingState.objects.singleton().get().lock_owner == ""
    # A serving process polls the one-row pointer and loads the new version by itself.
    time.sleep(store.POLL_SECONDS + 0.1)
    assert store.active_bundle().version_id == candidate.pk


def test_first_candidate_without_an_active_version_is_promoted(site):
    candidate = candidate_with("genre")
    assert training.evaluate_version(candidate.pk) == candidate.pk
    candidate.refresh_from_db()
    assert candidate.status == Status.ACTIVE and candidate.metrics["baseline"] is None
    assert "no active version" in candidate.reason


def test_active_changed_by_hand_during_evaluation_is_not_overwritten(site, monkeypatch):
    active = fake_active_version("genre")
    other = candidate_with("genre")
    ModelVersion.objects.filter(pk=other.pk).update(status=Status.READY)
    TrainingState.objects.singleton().update(lock_owner="", lock_expires_at=None)
    candidate = candidate_with("genre", seed=0)
    real_score = training.score_split

    def score_then_staff_promotes(*args, **kwargs):
        out = real_score(*args, **kwargs)
        services.model_version_promote(ModelVersion.objects.get(pk=other.pk), reason="by hand")
        return out

    monkeypatch.setattr(training.gate, "score_split", score_then_staff_promotes)  # where the stage looks it up
    training.evaluate_version(candidate.pk)
    candidate.refresh_from_db()
    assert candidate.status == Status.REJECTED and "changed during evaluation" in candidate.reason
    assert ActiveModel.objects.singleton().get().version_id == other.pk != active.pk


@pytest.mark.parametrize(
    ("candidate", "baseline", "promote"),
    [(0.300, 0.300, True), (0.296, 0.300, True), (0.2949, 0.300, False), (0.350, 0.300, True)],
)
def test_decide_tolerance(candidate, baseline, promote):
    ok, why = training.decide({"ndcg@10": candidate, "recall@10": 0.1}, {"ndcg@10": baseline, "recall@10": 0.1}, 0.005)
    assert ok is promote
    assert "ndcg@10" in why and "tolerance 0.005" in why


def test_manual_promote_and_rollback(site, staff):
    base = fake_active_version("genre")
    candidate = candidate_with("genre", seed=0)
    training.evaluate_version(candidate.pk)
    assert services.active_version().pk == candidate.pk

    back = training.rollback(user=staff)
    assert back.pk == base.pk and back.status == Status.ACTIVE
    assert f"rolled back from v{candidate.pk} by staff" in back.reason
    again = training.promote_by_hand(ModelVersion.objects.get(pk=candidate.pk), user=staff)
    assert again.status == Status.ACTIVE and ActiveModel.objects.singleton().get().version_id == candidate.pk

    half_made = training.start_version(reason="test")
    with pytest.raises(ValueError, match="still queued"):
        training.promote_by_hand(half_made)
    assert ActiveModel.objects.singleton().get().version_id == candidate.pk


def test_admin_charts_buttons_and_tasks_view(site, client, staff, monkeypatch):
    from django_celery_results.models import TaskResult

    base = fake_active_version("genre")
    worse = candidate_with("random")
    ModelVersion.objects.filter(pk=worse.pk).update(loss_curve=[2.1, 1.9, 1.7, 1.8, 1.5, 1.4, 1.3, 1.35, 1.2, 1.1, 1.05])
    training.evaluate_version(worse.pk)
    TaskResult.objects.create(
        task_id=worse.data_counts["tasks"]["fine_tune"], task_name="recommendations.tasks.fine_tune_encoder", status="SUCCESS"
    )
    client.force_login(staff)

    page = client.get("/admin/recommendations/modelversion/").content.decode()
    assert "<svg" in page and "Held-out metrics across versions" in page
    assert f"v{worse.pk} (rejected) ndcg@10" in page and f"v{base.pk} (active) ndcg@10" in page  # point tooltips
    assert "Retrain now" in page and "Roll back" in page and "Running tasks" in page

    detail = client.get(f"/admin/recommendations/modelversion/{worse.pk}/change/").content.decode()
    assert "fine-tuning loss" in detail and "<polyline" in detail and "running mean" in detail
    assert "hybrid ndcg@10 (gate)" in detail

    tasks = client.get("/admin/recommendations/modelversion/tasks/").content.decode()
    assert "fine_tune_encoder" in tasks and f"v{worse.pk}</a>" in tasks

    sent: list[int] = []

    class FakeChain:
        def __init__(self, version_id: int, ids: dict) -> None:
            self.version_id = version_id

        def apply_async(self, **options) -> None:
            sent.append(self.version_id)

    monkeypatch.setattr("recommendations.tasks.training_chain", FakeChain)
    response = client.post("/admin/recommendations/modelversion/retrain/", follow=True)
    queued = ModelVersion.objects.get(status=Status.QUEUED)
    assert sent == [queued.pk] and f"Retraining queued as v{queued.pk}" in response.content.decode()
    assert queued.data_counts["requested_by"] == "staff"
    busy = client.post("/admin/recommendations/modelversion/retrain/", follow=True).content.decode()
    assert f"Not queued: a retraining is already queued (v{queued.pk}, waiting for an ml worker since" in busy and sent == [queued.pk]

    client.post("/admin/recommendations/modelversion/", {"action": "promote_selected", "_selected_action": [worse.pk]})
    assert ActiveModel.objects.singleton().get().version_id == worse.pk
    client.post("/admin/recommendations/modelversion/rollback/")
    assert ActiveModel.objects.singleton().get().version_id == base.pk
    assert client.get("/admin/recommendations/modelversion/retrain/").status_code == 405


def test_an_active_versions_own_zero_is_kept_and_a_rollback_keeps_the_verdict(site, staff):
    base = fake_active_version("genre")
    own = {"ndcg@10": 0.0, "recall@10": 0.0, "evaluated_with": None}
    ModelVersion.objects.filter(pk=base.pk).update(metrics=own)
    candidate = candidate_with("genre", seed=0)
    training.evaluate_version(candidate.pk)
    assert ModelVersion.objects.get(pk=base.pk).metrics == own  # 0.0 is a result, not "not evaluated"

    verdict = ModelVersion.objects.get(pk=candidate.pk).reason
    training.rollback(user=staff)
    training.promote_by_hand(ModelVersion.objects.get(pk=candidate.pk), user=staff)
    reason = ModelVersion.objects.get(pk=candidate.pk).reason
    assert reason.startswith("promoted by hand") or "by staff" in reason.splitlines()[0]
    assert verdict in reason  # the gate's words are still there


def test_health_says_when_the_version_became_active(site, staff, client):
    fake_active_version("genre")
    candidate = candidate_with("genre", seed=0)
    training.evaluate_version(candidate.pk)
    back = training.rollback(user=staff)
    body = client.get("/api/v1/health/").json()["model"]
    assert body["version"] == back.pk
    activated = datetime.fromisoformat(body["activated_at"].replace("Z", "+00:00"))
    assert activated > back.finished_at  # the roll-back's time, not the day the version was built

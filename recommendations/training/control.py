"""The chain run in one process, and staff's manual control: promote, roll back, find a task's version."""

from __future__ import annotations

import time
from collections.abc import Callable

from recommendations import services
from recommendations.models import ModelVersion
from recommendations.training.build import collab_version, fine_tune_version, refresh_version
from recommendations.training.gate import evaluate_version
from recommendations.training.lifecycle import RUNNING, Status


def run_chain_inline(version_id: int, *, timings: dict[str, float] | None = None) -> ModelVersion:
    """The whole chain in this process (benchmark, tests): same stage functions as the tasks."""
    stages: list[tuple[str, Callable[..., int | None]]] = [
        ("fine-tune", fine_tune_version),
        ("refresh", refresh_version),
        ("collab", collab_version),
        ("evaluate", evaluate_version),
    ]
    current: int | None = version_id
    for name, stage in stages:
        started = time.perf_counter()
        current = stage(current)
        if timings is not None:
            timings[name] = time.perf_counter() - started
        if current is None:
            break
    return ModelVersion.objects.get(pk=version_id)


# ------------------------------------------------------------------------ manual control (admin)


def promote_by_hand(version: ModelVersion, *, user=None) -> ModelVersion:
    """Staff promotion: any finished version with embeddings, never one that is half-made."""
    if version.status in (Status.QUEUED, *RUNNING):
        raise ValueError(f"v{version.pk} is still {version.status}")
    if version.status == Status.FAILED:
        raise ValueError(f"v{version.pk} failed; its artifacts may be incomplete")
    if not version.embeddings_path:
        raise ValueError(f"v{version.pk} has no embeddings")
    who = user.get_username() if user is not None else "staff"
    return services.model_version_promote(version, reason=f"promoted by hand by {who}")


def rollback(*, user=None) -> ModelVersion:
    """Re-activate the version the active one replaced (its parent), else the newest other usable one."""
    active = services.active_version()
    if active is None:
        raise ValueError("no active version to roll back from")
    usable = (Status.READY, Status.REJECTED)
    target = active.parent if active.parent and active.parent.status in usable and active.parent.embeddings_path else None
    if target is None:
        target = (
            ModelVersion.objects.filter(status=Status.READY)
            .exclude(pk=active.pk)
            .exclude(embeddings_path="")
            .order_by("-finished_at", "-pk")
            .first()
        )
    if target is None:
        raise ValueError(f"no earlier version to roll back to from v{active.pk}")
    who = user.get_username() if user is not None else "staff"
    return services.model_version_promote(target, reason=f"rolled back from v{active.pk} by {who}")


def task_version_map(task_ids: list[str]) -> dict[str, int]:
    """task id -> version id, from the ids each chain recorded when it was queued."""
    wanted = set(task_ids)
    out: dict[str, int] = {}
    for pk, counts in ModelVersion.objects.exclude(data_counts={}).order_by("-pk").values_list("pk", "data_counts")[:200]:
        for task_id in (counts or {}).get("tasks", {}).values():
            if task_id in wanted:
                out[task_id] = pk
    return out

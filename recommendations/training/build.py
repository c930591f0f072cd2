"""The stages that build a version: fine-tune the encoder, embed the catalogue, fit the collaborative model and hybrid."""

from __future__ import annotations

import gc
import inspect
import logging
import math
from collections.abc import Callable

import numpy as np
from django.core.files.storage import default_storage

from recommendations import services, store
from recommendations.models import ModelVersion
from recommendations.training.lifecycle import Skip, conf
from recommendations.training.split import build_split, catalogue_text_map, training_pairs, validation_pairs
from recommendations.training.stages import StageRun, _run_stage

logger = logging.getLogger(__name__)

TRAIN_LOSS_SAMPLE = 64
# EASE's lambda is chosen on validation only where its eigendecomposition is cheap;
# above this many films (ml-latest-small: 9.7k, >8 min to select) the parent's or a default is used.
COLLAB_SELECT_MAX_ITEMS = 3000
DEFAULT_COLLAB_LAMBDA = 300.0


def fine_tune_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 1: fine-tune the parent's encoder on pairs from the train split; save it as this version's."""
    return _run_stage(version_id, "fine-tune", task_id, _fine_tune)


def _fine_tune(run: StageRun) -> None:
    version = run.version
    if version.encoder_path:
        return  # an earlier attempt finished this stage
    budget = run.budget
    run.report(0.0, "building the split and pairs", force=True)
    split = build_split(version.data_counts.get("cutoff"))
    texts = catalogue_text_map()
    pairs, pair_counts = training_pairs(split, texts, max_pairs=int(budget["max_pairs"]), seed=version.pk)
    val = validation_pairs(split, texts, seed=version.pk)
    counts = {**version.data_counts, **split.counts(), **pair_counts, "validation_pairs": len(val), "films": len(texts)}
    run.save(data_counts=counts)
    if len(pairs) < 2:
        raise Skip(f"not enough training pairs ({len(pairs)}) in {counts['train_ratings']} training ratings")

    from recommendations.encoders import local_encoder_dir, scratch_dir, upload_encoder_dir
    from recommendations.ml.finetune import fine_tune_job
    from recommendations.ml.isolate import run_isolated

    parent = version.parent
    batch = int(budget["batch_size"])
    per_epoch = math.ceil(len(pairs) / batch)
    planned = per_epoch * int(budget["epochs"])
    if budget.get("max_steps"):
        planned = min(planned, int(budget["max_steps"]))
    curve: list[float] = []
    where = {"fraction": 0.0, "message": "starting"}

    def on_event(event: tuple) -> None:
        nonlocal planned
        if event[0] == "stage":
            where.update(fraction=event[1], message=event[2])
            run.report(event[1], event[2], force=True, **({"loss_curve": curve} if curve else {}))
            return
        _, step, loss, seconds = event
        curve.append(round(float(loss), 5))
        # Batches never repeat a text, so clashing pairs can add a batch or two to the plan.
        planned = max(planned, step)
        done = max(step / max(planned, 1), seconds / float(budget["max_seconds"]))
        where.update(fraction=0.05 + 0.85 * done, message=f"step {step} of about {planned}, loss {loss:.3f}")
        run.report(where["fraction"], where["message"], force=step == 1, loss_curve=curve)

    options = {
        "batch_size": batch,
        "epochs": int(budget["epochs"]),
        "max_steps": int(budget["max_steps"]) if budget.get("max_steps") else None,
        "max_seconds": float(budget["max_seconds"]),
        "lr": float(budget["lr"]),
        "max_length": int(budget["max_length"]),
        "seed": version.pk,
    }
    encoder_dir = str(local_encoder_dir(parent.encoder_path)) if parent and parent.encoder_path else None
    with scratch_dir(f"{store.version_prefix(version.pk)}/encoder") as out_dir:
        # TensorFlow trains in a spawned child: the ~3 GB that training takes would otherwise
        # stay with this worker for good (TF does not give it back).
        out = run_isolated(
            fine_tune_job,
            encoder_dir,
            pairs,
            {"train_pairs": pairs[:TRAIN_LOSS_SAMPLE], "validation_pairs": val},
            str(out_dir),
            options,
            on_event=on_event,
            on_idle=lambda: run.report(where["fraction"], where["message"]),
        )
        path = upload_encoder_dir(out_dir, f"{store.version_prefix(version.pk)}/encoder")
    result, before, after = out["result"], out["before"], out["after"]
    metrics = {
        **version.metrics,
        "finetune": {
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            "stopped": result.stopped_reason,
            "pairs_used": result.pairs_used,
            "loss_before": {k: round(v, 5) for k, v in before.items()},
            "loss_after": {k: round(v, 5) for k, v in after.items()},
        },
    }
    run.save(encoder_path=path, loss_curve=[round(float(x), 5) for x in result.losses], metrics=metrics)


# ------------------------------------------------------------------------ refresh and collab


def refresh_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 2: embed the whole catalogue with the version's encoder."""
    return _run_stage(version_id, "refresh", task_id, _refresh)


def _refresh(run: StageRun) -> None:
    version = run.version
    if version.embeddings_path:
        return
    if not version.encoder_path:
        raise RuntimeError(f"v{version.pk} has no fine-tuned encoder to embed with")
    counts = services.embed_catalogue(
        version, progress=lambda done, total: run.report(done / max(total, 1), f"embedded {done} of {total} films")
    )
    run.save(data_counts={**version.data_counts, "embedded": counts["embedded"]})


def refresh_active(*, only_changed: bool = True, progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-embed new and changed films for the active version (no new version, no lock)."""
    version = services.active_version()
    if version is None:
        return {"version": None, "embedded": 0}
    counts = services.embed_catalogue(version, only_changed=only_changed, progress=progress)
    return {"version": version.pk, **counts}


def collab_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 3: the collaborative model on every rating up to the cutoff, stored with the version."""
    return _run_stage(version_id, "collab", task_id, _collab)


def _collab_params(n_items: int, parent: ModelVersion | None) -> dict[str, float]:
    """Hyper-parameters to fit with: none (select on validation) when that is cheap, else the parent's or defaults."""
    if conf("COLLAB_LAMBDA"):
        return {"lam": float(conf("COLLAB_LAMBDA"))}
    if n_items <= COLLAB_SELECT_MAX_ITEMS:
        return {}
    known = _parent_collab_params(parent) if parent is not None else {}
    params = {k: float(known[k]) for k in ("lam", "pop_reg") if k in known}
    params.setdefault("lam", DEFAULT_COLLAB_LAMBDA)
    params.setdefault("pop_reg", 0.0)
    return params


def _parent_collab_params(parent: ModelVersion) -> dict[str, float]:
    """The parent's fitted hyper-parameters: from its records, else from its artifact's metadata."""
    for holder in (parent.metrics or {}, parent.data_counts or {}):
        params = (holder.get("collab") or {}).get("params")
        if params:
            return params
    if parent.collab_path:
        try:
            with default_storage.open(parent.collab_path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
                # Only the small metadata entries are read from the archive, not the weights.
                return dict(zip(npz["param_names"].tolist(), npz["param_values"].tolist(), strict=True))
        except Exception:
            logger.warning("could not read v%s collaborative parameters", parent.pk, exc_info=True)
    return {}


def _fit_collab(interactions: tuple, n_items: int, params: dict[str, float]):
    """fit_collab with the parameters its current signature accepts (its grid of options is still growing)."""
    from recommendations.ml.collab import fit_collab

    accepted = inspect.signature(fit_collab).parameters
    return fit_collab(interactions, n_items, **{k: v for k, v in params.items() if k in accepted})


def _collab(run: StageRun) -> None:
    from recommendations.collab_store import train_collab
    from recommendations.hybrid_store import train_hybrid_or_skip

    version = run.version
    if version.collab_path or not conf("TRAIN_COLLAB", True):
        return
    split = build_split(version.data_counts.get("cutoff"))
    if len(split.users) == 0:
        return
    params = _collab_params(len(np.unique(split.movies)), version.parent)
    accepted = inspect.signature(train_collab).parameters  # passes pop_reg once collab_store takes it
    with run.beating(0.1, "fitting the collaborative model"):
        info = train_collab(version.pk, split.users, split.movies, **{k: v for k, v in params.items() if k in accepted})
    run.save(collab_path=info["path"], metrics={**version.metrics, "collab": {k: info[k] for k in ("kind", "items", "params")}})
    gc.collect()  # the EASE matrix above, before the hybrid builds its own
    with run.beating(0.5, "fitting the hybrid ranker"):
        hybrid = train_hybrid_or_skip(version.pk, (split.users, split.movies, split.values, split.stamps))
    run.save(metrics={**version.metrics, "hybrid": hybrid})

"""The offline recommendation pipeline, shared by ``recommend_offline``, ``evaluate`` and the site.

Given interactions and film texts, within a wall-clock budget:

1. embed every film with the verified base encoder (MiniLM);
2. if the budget allows, fine-tune the encoder on film -> film pairs (co-liked and
   next-liked, the recipe of the site's training chain) built from the *fit* part of a
   validation split carved from the training ratings, then re-embed; the base or the tuned
   vectors are kept according to content-only nDCG on that validation split (which the
   encoder never saw), so a short, unlucky fine-tune cannot make things worse;
3. fit ``HybridModel`` (content-regularised EASE, with the temporal co-occurrence term when
   the ratings have times, + content + popularity, blend weights per activity bucket
   learnt on the same validation split);
4. rank the top k unseen films per user (``recommend``).

Budget (``budget.py``). Each stage is planned from a cost model before it starts: the EASE solve is timed
on a small matrix and scaled by n³, the embedding throughput is measured on the base pass,
and fine-tuning gets what is left after reserving re-embedding and the hybrid fit. Stages
that do not fit are skipped (content, then fine-tuning) or shrunk (fewer cold-start
simulations, then the collaborative catalogue is cut to the most-interacted films) rather
than overrunning. ``fine_tune`` also gets a hard ``max_seconds`` stop.

Determinism. Everything is seeded. The one timing-dependent choice is how many fine-tuning
steps fit the budget: pass ``finetune_steps`` to pin it; the plan actually used is in
``PipelineResult.budget``.

Memory. With the real encoder, steps 1 and 2 run in spawned child processes (``isolate``):
TensorFlow keeps the ~3 GB that training takes until its process ends, and the hybrid fit
comes after. The budget's ``peak_rss_children_mb`` is the largest child's peak.

Nothing here imports TensorFlow at import time (fork hazard, shared/docs/ml-stack.md).
"""

from __future__ import annotations

import gc
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from .budget import Budget, CostModel, calibrate, estimate_hybrid_seconds, plan_hybrid
from .collab import carve_validation, stamp_matrix
from .hybrid import HybridModel, taste_scores
from .isolate import run_isolated
from .metrics import per_user_ndcg, top_k, top_k_fast

__all__ = [
    "Dataset",
    "PipelineConfig",
    "PipelineResult",
    "build_dataset",
    "content_validation_ndcg",
    "finetune_pairs",
    "recommend",
    "run_pipeline",
    "vector_choice_text",
]

Log = Callable[[str], None]


class EncoderLike(Protocol):
    def embed(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray: ...


# ---------------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """Interactions on dense indices, plus one text per item ("" = no text, zero vector)."""

    user_ids: np.ndarray  # original ids, index -> id
    item_ids: np.ndarray
    users: np.ndarray  # per rating: user index
    items: np.ndarray  # per rating: item index
    values: np.ndarray  # per rating: the rating (only "liked" pairs for fine-tuning use it)
    timestamps: np.ndarray
    texts: list[str]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def matrix(self, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """Binary user x item CSR (all ratings, or the ones selected by ``rows``)."""
        u, i = (self.users, self.items) if rows is None else (self.users[rows], self.items[rows])
        x = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(self.n_users, self.n_items))
        x.sum_duplicates()
        x.data[:] = 1.0
        return x


def _natural_order(ids: np.ndarray) -> np.ndarray:
    """Sorted unique ids: numerically when every id is an integer (of any size), else as strings."""
    uniq = np.unique(np.asarray(ids).astype(str))
    try:
        keys = [int(s) for s in uniq.tolist()]  # Python ints: no int64 overflow
    except ValueError:
        return uniq
    order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: "007" before "7"
    return uniq[np.asarray(order, dtype=np.int64)]


def build_dataset(
    user_ids: Sequence[Any] | np.ndarray,
    item_ids: Sequence[Any] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    timestamps: Sequence[float] | np.ndarray,
    texts: dict[str, str] | None = None,
) -> Dataset:
    """Index ratings whose ids may be strings or ints; the catalogue is films in ``texts``
    plus every rated film (rated films without a text get none)."""
    users_raw = np.asarray(user_ids).astype(str)
    items_raw = np.asarray(item_ids).astype(str)
    texts = texts or {}
    uid = _natural_order(users_raw)
    iid = _natural_order(np.concatenate([items_raw, np.array(list(texts), dtype=str)]))
    # np.unique sorts lexicographically; map through a dict to respect the natural order.
    u_pos = {s: n for n, s in enumerate(uid.tolist())}
    i_pos = {s: n for n, s in enumerate(iid.tolist())}
    return Dataset(
        user_ids=uid,
        item_ids=iid,
        users=np.fromiter((u_pos[s] for s in users_raw.tolist()), dtype=np.int64, count=len(users_raw)),
        items=np.fromiter((i_pos[s] for s in items_raw.tolist()), dtype=np.int64, count=len(items_raw)),
        values=np.asarray(values, dtype=np.float32),
        timestamps=np.asarray(timestamps, dtype=np.float64),
        texts=[texts.get(s, "") for s in iid.tolist()],
    )


# ------------------------------------------------------------------------------- pipeline


@dataclass
class PipelineConfig:
    k: int = 10
    budget_seconds: float = 1200.0
    seed: int = 42
    content: bool = True  # embed films (MiniLM); False = collaborative + popularity only
    temporal: bool = True  # temporal co-occurrence term in EASE when the ratings have distinct times
    finetune: bool = True  # fine-tune if the budget allows
    finetune_seconds: float | None = None  # cap on fine-tuning time (None: what the budget leaves)
    finetune_steps: int | None = None  # pin the number of steps (reproducible runs)
    max_pairs: int = 8000
    batch_size: int = 32
    max_length: int = 128
    lr: float = 2e-5
    cold_repeats: int = 3
    # TensorFlow work (embedding, fine-tuning) in spawned child processes, so that the memory
    # training takes is returned before the hybrid fit; only for the real encoder (see isolate.py).
    isolate: bool = True
    # Keep the hybrid fitted with the vectors that were not kept (evaluate's zero-shot ablation
    # reuses it instead of refitting); off by default, as it holds a second n x n matrix.
    keep_alternative: bool = False
    costs: CostModel = field(default_factory=CostModel)


@dataclass
class PipelineResult:
    dataset: Dataset
    model: HybridModel
    item_cols: np.ndarray  # model column -> dataset item index
    base_vectors: np.ndarray | None
    tuned_vectors: np.ndarray | None
    vectors: np.ndarray | None  # the ones the hybrid was fitted with (dataset item order)
    budget: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    alternative: HybridModel | None = None  # with keep_alternative: the hybrid with the other vectors
    _fallback: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def _outside(self) -> tuple[np.ndarray, np.ndarray]:
        """Films outside the fitted catalogue, and their popularity in [0, 1) to rank them by."""
        if self._fallback is None:
            outside = np.setdiff1d(np.arange(self.dataset.n_items), self.item_cols)
            counts = np.asarray(self.dataset.matrix()[:, outside].sum(axis=0), dtype=np.float32).ravel()
            self._fallback = (outside, counts / (counts.max(initial=0.0) + 1.0))
        return self._fallback

    def score(self, x: sp.csr_matrix) -> np.ndarray:
        """Hybrid scores over *dataset* items for user rows ``x`` (n, n_items); seen = -inf,
        films outside the fitted catalogue = -inf."""
        x = sp.csr_matrix(x)
        sub = x[:, self.item_cols]
        out = np.full((x.shape[0], x.shape[1]), -np.inf, dtype=np.float32)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)  # a user who saw every film
            warnings.filterwarnings("ignore", "Degrees of freedom", RuntimeWarning)
            out[:, self.item_cols] = self.model.score(sub)
        # No history at all: the blend has nothing but popularity to go on, whatever its weights.
        empty = np.flatnonzero(np.diff(sub.indptr) == 0)
        if empty.size and self.model.popularity is not None:
            out[np.ix_(empty, self.item_cols)] = self.model.popularity[None, :]
        outside, fallback = self._outside()
        if outside.size:
            fitted = out[:, self.item_cols]
            floor = np.min(np.where(np.isfinite(fitted), fitted, np.inf), axis=1, initial=np.inf)
            floor = np.where(np.isfinite(floor), floor, 0.0).astype(np.float32)
            out[:, outside] = floor[:, None] - 2.0 + fallback[None, :]
        # Seen films outside the fitted columns are excluded too.
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        out[rows, x.indices] = -np.inf
        return out


def finetune_pairs(dataset: Dataset, rows: np.ndarray, *, max_pairs: int, seed: int) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Co-liked and next-liked film-text pairs from the selected ratings: ``pairs.film_pairs``,
    the recipe the site's training chain uses too."""
    from .pairs import film_pairs

    texts = {i: t for i, t in enumerate(dataset.texts) if t}
    return film_pairs(
        dataset.users[rows], dataset.items[rows], dataset.values[rows], dataset.timestamps[rows], texts, max_pairs=max_pairs, seed=seed
    )


def content_validation_ndcg(fit_x: sp.csr_matrix, val_x: sp.csr_matrix, vectors: np.ndarray, k: int = 10, block: int = 2048) -> float:
    """nDCG@k of content-only ranking (taste cosine) on held-out validation interactions."""
    users = np.flatnonzero((np.diff(val_x.indptr) > 0) & (np.diff(fit_x.indptr) > 0))
    if users.size == 0:
        return 0.0
    parts = []
    for start in range(0, users.size, block):
        rows = users[start : start + block]
        xf = fit_x[rows]
        s = taste_scores(xf, vectors).astype(np.float64)
        r = np.repeat(np.arange(xf.shape[0]), np.diff(xf.indptr))
        s[r, xf.indices] = -np.inf
        parts.append(per_user_ndcg(top_k_fast(s, k), val_x[rows], k))
    return float(np.concatenate(parts).mean())


def _rows_in(x: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Which (user, item) ratings fall on a stored cell of ``x``."""
    x = sp.csr_matrix(x)
    x.sort_indices()
    keys = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr)) * x.shape[1] + x.indices
    return np.isin(users.astype(np.int64) * x.shape[1] + items, keys)


def _embed(encoder: EncoderLike, texts: list[str], max_length: int, log: Log, label: str) -> np.ndarray:
    """Vectors for every text; empty texts get a zero vector (no content signal)."""
    has = np.flatnonzero([bool(t) for t in texts])
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if done == total or time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            log(f"  {label}: {done}/{total} films")

    vecs = encoder.embed([texts[i] for i in has], batch_size=64, max_length=max_length, progress=progress)
    out = np.zeros((len(texts), vecs.shape[1] if vecs.ndim == 2 and vecs.shape[0] else 384), dtype=np.float32)
    out[has] = vecs
    return out


def _default_encoder_loader() -> Any:
    from .encoder import Encoder

    # A fresh instance, never the process-wide cached base encoder: fine-tuning is in place.
    return Encoder.load()


# What the site's MiniLM loader is; a stand-in (a test's fake) is run in process.
_REAL_ENCODER_LOADER = _default_encoder_loader


def _embed_job(emit: Log, loader: Callable[[], Any], texts: list[str], max_length: int) -> tuple[np.ndarray, float]:
    """Embed every text with ``loader()``'s encoder; the vectors and the embedding seconds (load excluded)."""
    encoder = loader()
    t0 = time.perf_counter()
    vectors = _embed(encoder, texts, max_length, emit, "base")
    return vectors, time.perf_counter() - t0


def _tune_job(
    emit: Log,
    loader: Callable[[], Any],
    texts: list[str],
    pairs: list[tuple[str, str]],
    options: dict[str, Any],
    deadline: float,
    elapsed: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fine-tune ``loader()``'s encoder on ``pairs`` until ``deadline`` (``time.time()``) at the
    latest, then re-embed every text. ``elapsed`` is the budget's clock when the job was sent,
    for the step log."""
    from .finetune import fine_tune

    encoder = loader()
    started = time.perf_counter()
    of = f"/{options['max_steps']}" if options.get("max_steps") is not None else ""

    def on_step(step: int, loss: float) -> None:
        if step == 1 or step % 10 == 0:
            emit(f"  step {step}{of} loss {loss:.3f} ({elapsed + time.perf_counter() - started:.0f} s elapsed)")

    # The deadline, not a duration: a spawned child spends seconds starting before it gets here.
    result = fine_tune(encoder, pairs, max_seconds=max(deadline - time.time(), 1.0), on_step=on_step, **options)
    tuned_at = time.perf_counter()
    tuned = _embed(encoder, texts, options["max_length"], emit, "tuned")
    return tuned, {
        "steps": result.steps,
        "stopped": result.stopped_reason,
        "loss_first": round(result.losses[0], 4) if result.losses else None,
        "loss_last": round(float(np.mean(result.losses[-10:])), 4) if result.losses else None,
        "finetune_seconds": round(tuned_at - started, 1),
        "reembed_seconds": round(time.perf_counter() - tuned_at, 1),
    }


def run_pipeline(
    dataset: Dataset,
    config: PipelineConfig | None = None,
    *,
    log: Log = print,
    encoder_loader: Callable[[], Any] | None = None,
    budget: Budget | None = None,
    base_vectors: np.ndarray | None = None,
) -> PipelineResult:
    """Steps 1-3 of the module docstring; ``recommend`` does step 4.

    ``base_vectors`` (one row per dataset item) skips the base embedding when the caller
    already has it, e.g. ``evaluate`` shares one across splits; the encoder is then loaded
    only if fine-tuning runs. ``encoder_loader`` returns a fresh encoder (default: the
    verified base MiniLM); anything with ``embed`` works, fine-tuning needs a real ``Encoder``.
    """
    cfg = config or PipelineConfig()
    budget = budget or Budget(cfg.budget_seconds)
    costs = cfg.costs
    loader = encoder_loader or _default_encoder_loader
    seed = cfg.seed
    x = dataset.matrix()
    info: dict[str, Any] = {"users": dataset.n_users, "items": dataset.n_items, "interactions": int(x.nnz)}
    reserve = costs.safety_fraction * budget.total + 2.0

    with budget.stage("validation split"):
        # The same carve HybridModel would make: the encoder is tuned on its fit part only, so
        # the blend weights and the base/tuned choice are learnt on interactions it never saw.
        fit_x, val_x = carve_validation(x, seed=seed)
        fit_rows = _rows_in(fit_x, dataset.users, dataset.items)
        # Rating times for the temporal term (HybridModel counts them on the fit part for
        # validation): only if they order anything, i.e. are not all equal.
        stamps = None
        if cfg.temporal and dataset.timestamps.size and np.ptp(dataset.timestamps) > 0:
            stamps = stamp_matrix(dataset.users, dataset.items, dataset.timestamps, x.shape)
    temporal = stamps is not None
    info["temporal"] = temporal
    with budget.stage("plan"):
        n_active = int((np.diff(sp.csc_matrix(x).indptr) > 0).sum())
        calibration = calibrate(dataset.n_items, seed)
        # Priorities when time is short: a hybrid on every film > content > fine-tuning >
        # several cold-start simulations for the blend weights.
        t_full = plan_hybrid(
            dataset.n_items, dataset.n_users, math.inf, calibration=calibration, cold_repeats=cfg.cold_repeats, temporal=temporal
        )
        t_min = plan_hybrid(dataset.n_items, dataset.n_users, math.inf, calibration=calibration, cold_repeats=1, temporal=temporal)
    t_hybrid = (t_full["estimate_seconds"], t_min["estimate_seconds"])
    n_text = sum(1 for t in dataset.texts if t)
    t_embed = costs.encoder_load_seconds + n_text / costs.embed_texts_per_second
    budget.plan.update({"hybrid_estimate_seconds": list(t_hybrid), "embed_estimate_seconds": round(t_embed, 1), "films_with_text": n_text})

    base = tuned = None
    vectors: np.ndarray | None = None
    have_base = base_vectors is not None
    # Content is attempted if, after embedding, even a cut-down hybrid (2,000 films) would fit:
    # the hybrid plan made later shrinks to what is actually left.
    t_floor = estimate_hybrid_seconds(min(dataset.n_items, 2000), dataset.n_users, 1, calibration=calibration, temporal=temporal)
    content_ok = cfg.content and n_text > 0 and (have_base or budget.remaining() - reserve - t_floor >= t_embed)
    budget.plan["content"] = bool(content_ok)
    if not content_ok:
        reason = "disabled" if not cfg.content else "no film texts" if n_text == 0 else "budget"
        budget.plan["content_skipped"] = reason
        log(f"content: skipped ({reason}); collaborative + popularity only")
    else:
        encoder: Any = None
        isolated = cfg.isolate and loader is _REAL_ENCODER_LOADER
        budget.plan["isolated"] = isolated

        def get_encoder() -> Any:
            nonlocal encoder
            if encoder is None:
                with budget.stage("load encoder"):
                    encoder = loader()
            return encoder

        def call(fn: Callable[..., Any], *args: Any) -> Any:
            # In process, the jobs share one loaded encoder; isolated, each child loads its own.
            return run_isolated(fn, loader, *args, on_event=log) if isolated else fn(log, get_encoder, *args)

        if have_base:
            base = np.asarray(base_vectors, dtype=np.float32)
            if base.shape[0] != dataset.n_items:
                raise ValueError(f"base_vectors has {base.shape[0]} rows for {dataset.n_items} items")
            tps = costs.embed_texts_per_second
        else:
            log(f"embedding {n_text} films with the base encoder" + (" (in a child process)" if isolated else ""))
            if not isolated:
                get_encoder()
            with budget.stage("embed base"):
                base, seconds = call(_embed_job, dataset.texts, cfg.max_length)
            tps = n_text / max(seconds, 1e-6)
        vectors = base
        info["content_val_ndcg_base"] = round(content_validation_ndcg(fit_x, val_x, base, cfg.k), 4)

        reserved = (t_hybrid[0] + reserve, t_hybrid[1] + reserve)
        tuned = _maybe_finetune(dataset, cfg, budget, call, None if isolated else get_encoder, fit_rows, tps, reserved, log)
        if tuned is not None:
            info["content_val_ndcg_tuned"] = round(content_validation_ndcg(fit_x, val_x, tuned, cfg.k), 4)
            # Ties go to the tuned vectors: they also carry the collaborative signal into the prior.
            if info["content_val_ndcg_tuned"] >= info["content_val_ndcg_base"]:
                vectors = tuned
        info["vectors"] = "fine-tuned" if tuned is not None and vectors is tuned else "base"
        encoder = None  # in process: free what TF will give back before the O(n²) hybrid fit
        gc.collect()

    # 3. The hybrid, shrunk if what is left cannot afford the full fit.
    with budget.stage("plan"):
        plan = plan_hybrid(
            dataset.n_items,
            dataset.n_users,
            budget.remaining() - reserve,
            calibration=calibration,
            cold_repeats=cfg.cold_repeats,
            temporal=temporal,
        )
    keep = _keep_items(x, plan["max_items"])
    budget.plan.update({"hybrid": plan, "hybrid_items": len(keep), "items_with_interactions": n_active})
    log(
        f"fitting the hybrid on {len(keep)} films x {dataset.n_users} users "
        f"({plan['cold_repeats']} cold-start simulations, estimate {plan['estimate_seconds']:.0f} s)"
    )

    def fit_hybrid(vec: np.ndarray | None, reuse: HybridModel | None = None) -> HybridModel:
        # Validation nDCG@k needs k <= films (HybridModel's top-k does not clamp).
        model = HybridModel(seed=seed, k=max(1, min(cfg.k, len(keep))), cold_repeats=plan["cold_repeats"])
        with warnings.catch_warnings():
            # Tiny inputs leave validation buckets empty; the model then keeps its defaults.
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            return model.fit(
                fit_x[:, keep],
                vec[keep] if vec is not None else None,
                val=val_x[:, keep],
                timestamps=stamps[:, keep] if stamps is not None else None,
                reuse=reuse,
            )

    with budget.stage("fit hybrid"):
        model = fit_hybrid(vectors)
    info["hybrid"] = model.describe()
    log(f"hybrid fitted in {budget.stages['fit hybrid']:.0f} s; blend weights {info['hybrid']['weights']}")
    alternative = None
    if tuned is not None and base is not None:
        first = model
        model, vectors, alternative = _choose_by_hybrid(
            model, vectors, base, tuned, lambda vec: fit_hybrid(vec, reuse=first), budget, reserve, info, log
        )
    result = PipelineResult(dataset, model, keep, base, tuned, vectors, budget.report(), info)
    if cfg.keep_alternative:
        result.alternative = alternative
    return result


def _choose_by_hybrid(
    model: HybridModel,
    vectors: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    fit_hybrid: Callable[[np.ndarray], HybridModel],
    budget: Budget,
    reserve: float,
    info: dict[str, Any],
    log: Log,
) -> tuple[HybridModel, np.ndarray, HybridModel | None]:
    """Fit the hybrid with the other vectors too, if the budget allows, and keep the one whose
    blend validates better: what matters is the ranking the vectors give with the collaborative
    model (fine-tuned vectors can be better alone and redundant with it), as the site's
    promotion gate compares versions by their hybrids. Ties go to the fine-tuned vectors.
    Returns the kept model, its vectors, and the model not kept (None without a second fit).

    ``fit_hybrid`` reuses the first fit's vector-free work (``HybridModel.fit(reuse=...)``), so
    the second fit is expected to take the first's time less what it can reuse."""
    first = model.validation_ndcg()
    expected = max(budget.stages["fit hybrid"] - model.reusable_seconds, 0.0)
    info["second_hybrid_estimate_seconds"] = round(expected, 1)
    if first is None or budget.remaining() - reserve < expected * 1.2:
        info["vectors_rule"] = "content validation" + (" (no budget for a second hybrid)" if first is not None else "")
        return model, vectors, None
    other_vectors = base if vectors is tuned else tuned
    with budget.stage("fit second hybrid"):
        other = fit_hybrid(other_vectors)
    second = other.validation_ndcg()
    if second is None:  # cannot happen with the same users and seed; keep the first to be safe
        info["vectors_rule"] = "content validation"
        return model, vectors, other
    scores = {"tuned" if vectors is tuned else "base": first, "tuned" if other_vectors is tuned else "base": second}
    info["hybrid_val_ndcg"] = {k: round(v, 4) for k, v in scores.items()}
    info["vectors_rule"] = "hybrid validation"
    keep_tuned = scores["tuned"] >= scores["base"]
    log(f"hybrid validation nDCG@k with base vectors {scores['base']:.4f}, with fine-tuned {scores['tuned']:.4f}: keeping {'fine-tuned' if keep_tuned else 'base'}")
    if (other_vectors is tuned) == keep_tuned:
        model, vectors, other = other, other_vectors, model
        info["hybrid"] = model.describe()
    info["vectors"] = "fine-tuned" if vectors is tuned else "base"
    return model, vectors, other


def vector_choice_text(info: dict[str, Any], k: int = 10) -> str:
    """``info``'s kept content vectors, the rule that kept them and its figures, for logs and reports."""
    text = (
        f"{info['vectors']}, by {info.get('vectors_rule', 'content validation')} (content alone, validation "
        f"nDCG@{k} base {info.get('content_val_ndcg_base')}, tuned {info.get('content_val_ndcg_tuned', '–')}"
    )
    if info.get("hybrid_val_ndcg"):
        text += f"; the hybrid's blend validation nDCG@{k} {info['hybrid_val_ndcg']}"
    return text + ")"


def _keep_items(x: sp.csr_matrix, max_items: int) -> np.ndarray:
    """All items, or the ``max_items`` most interacted (ties to the lower index), in index order."""
    n = x.shape[1]
    if max_items >= n:
        return np.arange(n)
    counts = np.asarray(x.sum(axis=0)).ravel()
    order = np.lexsort((np.arange(n), -counts))
    return np.sort(order[:max_items])


def _maybe_finetune(
    dataset: Dataset,
    cfg: PipelineConfig,
    budget: Budget,
    call: Callable[..., Any],
    get_encoder: Callable[[], Any] | None,
    fit_rows: np.ndarray,
    texts_per_second: float,
    reserved_after: tuple[float, float],
    log: Log,
) -> np.ndarray | None:
    """Fine-tune and re-embed if the budget leaves room for a useful number of steps.

    ``call(job, *args)`` runs a job with an encoder (see ``run_pipeline``); ``get_encoder`` is
    given when that encoder is in this process, to check that it can be trained."""
    costs = cfg.costs
    n_text = sum(1 for t in dataset.texts if t)
    t_reembed = n_text / max(texts_per_second, 1e-6) * 1.1
    step_seconds = max(costs.finetune_step_seconds, costs.finetune_step_forward_ratio * 2 * cfg.batch_size / max(texts_per_second, 1e-6))

    def affordable(reserved: float) -> int:
        available = budget.remaining() - reserved - t_reembed - costs.finetune_trace_seconds
        if cfg.finetune_seconds is not None:
            available = min(available, cfg.finetune_seconds - costs.finetune_trace_seconds)
        return int(available // step_seconds)

    # Keep the full hybrid if fine-tuning still gets enough steps, else settle for the smaller one.
    reserved = reserved_after[0]
    steps_fit = affordable(reserved)
    if steps_fit < costs.min_finetune_steps:
        reserved = reserved_after[1]
        steps_fit = affordable(reserved)
    plan: dict[str, Any] = {
        "reembed_estimate_seconds": round(t_reembed, 1),
        "step_estimate_seconds": round(step_seconds, 1),
        "steps_affordable": max(steps_fit, 0),
    }
    budget.plan["finetune"] = plan
    if not cfg.finetune:
        plan["skipped"] = "disabled"
    elif cfg.finetune_steps is None and steps_fit < costs.min_finetune_steps:
        plan["skipped"] = f"budget: {max(steps_fit, 0)} steps affordable, {costs.min_finetune_steps} needed"
    elif get_encoder is not None and not hasattr(get_encoder(), "model"):
        plan["skipped"] = "this encoder cannot be fine-tuned"
    if "skipped" in plan:
        log(f"fine-tuning: skipped ({plan['skipped']})")
        return None

    with budget.stage("finetune pairs"):
        pairs, counts = finetune_pairs(dataset, fit_rows, max_pairs=cfg.max_pairs, seed=cfg.seed)
    plan.update(counts)
    if len(pairs) < cfg.batch_size:
        plan["skipped"] = f"only {len(pairs)} training pairs"
        log(f"fine-tuning: skipped ({plan['skipped']})")
        return None
    # Time is the real bound (``max_seconds``); a step count only when pinned, for reproducibility.
    steps = cfg.finetune_steps if cfg.finetune_steps is not None else steps_fit
    per_epoch = max(1, len(pairs) // cfg.batch_size)
    epochs = max(1, math.ceil(steps / per_epoch))
    # Hard stop: whatever the plan said, never eat into re-embedding and the hybrid fit (the
    # check runs after each step, so one more step may start just before it).
    hard_stop = budget.remaining() - reserved - t_reembed - step_seconds
    if cfg.finetune_seconds is not None:
        hard_stop = min(hard_stop, cfg.finetune_seconds)
    plan.update({"planned_steps": int(steps), "epochs": epochs, "max_seconds": round(hard_stop, 1)})
    log(
        f"fine-tuning: {'exactly' if cfg.finetune_steps is not None else 'about'} {steps} steps of {cfg.batch_size} pairs "
        f"({len(pairs)} pairs), at most {hard_stop:.0f} s"
    )

    options = {
        "batch_size": cfg.batch_size,
        "epochs": epochs,
        "max_steps": cfg.finetune_steps,
        "lr": cfg.lr,
        "max_length": cfg.max_length,
        "seed": cfg.seed,
    }
    with budget.stage("finetune"):
        tuned, outcome = call(_tune_job, dataset.texts, pairs, options, time.time() + max(hard_stop, 1.0), budget.elapsed())
    plan.update(outcome)
    return tuned


# ------------------------------------------------------------------------------ ranking


def recommend(
    result: PipelineResult,
    users: np.ndarray | None = None,
    k: int = 10,
    *,
    block: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k dataset item indices and their scores for user indices (-1 = unknown user, who
    gets the cold-start ranking); rows are padded with -1 / nan when fewer films are eligible."""
    ds = result.dataset
    users = np.arange(ds.n_users) if users is None else np.asarray(users, dtype=np.int64)
    k = max(1, min(k, ds.n_items))  # no list is longer than the catalogue
    x = ds.matrix()
    ranked = np.full((users.size, k), -1, dtype=np.int64)
    scores = np.full((users.size, k), np.nan, dtype=np.float32)
    for start in range(0, users.size, block):
        u = users[start : start + block]
        # Unknown users (-1) get an empty history row.
        rows = (sp.diags((u >= 0).astype(np.float32)) @ x[np.maximum(u, 0)]).tocsr()
        rows.eliminate_zeros()
        s = result.score(rows)
        r = top_k(s, k)
        ranked[start : start + u.size] = r
        picked = np.take_along_axis(s, np.maximum(r, 0), axis=1)
        scores[start : start + u.size] = np.where(r >= 0, picked, np.nan)
    return ranked, scores

"""Contrastive fine-tuning of the encoder with the multiple-negatives ranking loss.

For a batch of (anchor, positive) pairs every other positive in the batch is a
negative for an anchor, so the loss is a softmax cross-entropy over
``scale * cos(anchor_i, positive_j)`` with the diagonal as the target (scale 20,
as in sentence-transformers). That only holds if no text appears twice in a
batch (a duplicate would be a "negative" identical to the positive), so batches
are packed with that constraint and clashing pairs wait for a later batch.

Measured cost (shared/docs/ml-stack.md): ~2.15 s/step at batch 32 and
max_length 128 on 2 cores, ~30 s for the first (tracing) step, 2.5 GB peak RSS.
Run it in one process; TensorFlow already uses both cores.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .encoder import Encoder, pool_and_normalise

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = ["FineTuneResult", "fine_tune", "fine_tune_job", "make_batches", "pair_accuracy", "pair_loss"]

Pair = tuple[str, str]
StepFn = Callable[[int, float], None]
# How far ahead the batch packer looks for a non-clashing pair; bounds its cost
# when the data is full of duplicates.
SCAN_FACTOR = 8


@dataclass
class FineTuneResult:
    """What a fine-tuning run did. ``pairs_used`` counts distinct pairs that reached a step."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    pairs_used: int = 0
    stopped_reason: str = "epochs"  # epochs | max_steps | max_seconds | no_pairs


def make_batches(pairs: Sequence[Pair], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffle pair indices into batches in which no text occurs twice.

    A clashing pair is deferred to a later batch rather than dropped; a final
    batch of one pair (no negatives) is discarded.
    """
    queue = deque(int(i) for i in rng.permutation(len(pairs)))
    batches: list[list[int]] = []
    while queue:
        batch: list[int] = []
        seen: set[str] = set()
        skipped: list[int] = []
        scanned = 0
        while queue and len(batch) < batch_size and scanned < batch_size * SCAN_FACTOR:
            i = queue.popleft()
            scanned += 1
            anchor, positive = pairs[i]
            if anchor in seen or positive in seen:
                skipped.append(i)
                continue
            batch.append(i)
            seen.update((anchor, positive))
        queue.extendleft(reversed(skipped))
        if len(batch) >= 2:
            batches.append(batch)
    return batches


def mnr_loss(anchors: tf.Tensor, positives: tf.Tensor, scale: float, symmetric: bool) -> tf.Tensor:
    """Multiple-negatives ranking loss on unit vectors (optionally both directions)."""
    import tensorflow as tf

    logits = scale * tf.matmul(anchors, positives, transpose_b=True)
    labels = tf.range(tf.shape(logits)[0])
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits
    loss = tf.reduce_mean(ce(labels=labels, logits=logits))
    if symmetric:
        loss = 0.5 * (loss + tf.reduce_mean(ce(labels=labels, logits=tf.transpose(logits))))
    return loss


def _make_train_step(model: Any, optimizer: Any, scale: float, symmetric: bool) -> Callable[..., Any]:
    import tensorflow as tf

    spec = tf.TensorSpec([None, None], tf.int32)

    def embed(ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        out = model(
            input_ids=ids,
            attention_mask=mask,
            token_type_ids=tf.zeros_like(ids),
            training=True,
        )
        return pool_and_normalise(out.last_hidden_state, mask)

    # One trace for all batch shapes; the optimizer's slots are created in it.
    @tf.function(input_signature=[spec] * 4)
    def train_step(a_ids: tf.Tensor, a_mask: tf.Tensor, p_ids: tf.Tensor, p_mask: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = mnr_loss(embed(a_ids, a_mask), embed(p_ids, p_mask), scale, symmetric)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        # The BERT pooler is unused by mean pooling, so it has no gradient.
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        return loss

    return train_step


def fine_tune(
    encoder: Encoder,
    pairs: Sequence[Pair],
    *,
    batch_size: int = 32,
    epochs: int = 1,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    lr: float = 2e-5,
    max_length: int = 128,
    on_step: StepFn | None = None,
    seed: int = 0,
    scale: float = 20.0,
    symmetric: bool = False,
) -> FineTuneResult:
    """Fine-tune ``encoder`` in place on (anchor, positive) pairs; returns per-step losses.

    Stops after ``epochs`` passes, ``max_steps`` steps or once ``max_seconds``
    have elapsed (checked after each step, so the traced first step always runs).
    ``on_step(step, loss)`` is called after every step, with step counting from 1.
    """
    import tensorflow as tf
    import tf_keras

    if batch_size < 2:
        raise ValueError("batch_size must be >= 2: in-batch negatives need company")
    result = FineTuneResult()
    started = time.perf_counter()
    pairs = [(str(a), str(p)) for a, p in pairs]
    if not pairs:
        return FineTuneResult(stopped_reason="no_pairs")
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)  # dropout masks
    anchor_ids = encoder.tokenize([a for a, _ in pairs], max_length)
    positive_ids = encoder.tokenize([p for _, p in pairs], max_length)
    train_step = _make_train_step(encoder.model, tf_keras.optimizers.Adam(learning_rate=lr), scale, symmetric)
    used: set[int] = set()

    def stop_reason() -> str | None:
        if max_steps is not None and result.steps >= max_steps:
            return "max_steps"
        if max_seconds is not None and time.perf_counter() - started >= max_seconds:
            return "max_seconds"
        return None

    reason = "epochs"
    for _ in range(epochs):
        batches = make_batches(pairs, batch_size, rng)
        if not batches:
            reason = "no_pairs"
            break
        for batch in batches:
            if (early := stop_reason()) is not None:
                reason = early
                break
            a_ids, a_mask, _ = encoder.pad([anchor_ids[i] for i in batch])
            p_ids, p_mask, _ = encoder.pad([positive_ids[i] for i in batch])
            loss = float(train_step(a_ids, a_mask, p_ids, p_mask))
            result.steps += 1
            result.losses.append(loss)
            used.update(batch)
            if on_step is not None:
                on_step(result.steps, loss)
        if reason != "epochs":
            break
    result.stopped_reason = reason
    result.pairs_used = len(used)
    result.seconds = time.perf_counter() - started
    return result


def _pair_vectors(encoder: Encoder, pairs: Sequence[Pair], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    anchors = encoder.embed([a for a, _ in pairs], max_length=max_length)
    positives = encoder.embed([p for _, p in pairs], max_length=max_length)
    return anchors, positives


def _chunks(n: int, batch_size: int | None) -> list[slice]:
    step = batch_size or n
    return [slice(i, min(i + step, n)) for i in range(0, n, max(step, 1))]


def pair_accuracy(
    encoder: Encoder,
    pairs: Sequence[Pair],
    *,
    batch_size: int | None = None,
    max_length: int = 128,
) -> float:
    """Top-1 in-batch retrieval accuracy: how often an anchor's nearest positive is its own.

    Pairs are pooled in chunks of ``batch_size`` (None = all together). A hit on a
    different pair whose positive text is identical counts as correct.
    """
    if len(pairs) == 0:
        return 0.0
    anchors, positives = _pair_vectors(encoder, pairs, max_length)
    texts = np.array([p for _, p in pairs], dtype=object)
    hits = 0
    for sl in _chunks(len(pairs), batch_size):
        best = np.argmax(anchors[sl] @ positives[sl].T, axis=1)
        hits += int(np.sum(texts[sl][best] == texts[sl]))
    return hits / len(pairs)


def pair_loss(
    encoder: Encoder,
    pairs: Sequence[Pair],
    *,
    batch_size: int | None = None,
    scale: float = 20.0,
    max_length: int = 128,
) -> float:
    """Mean multiple-negatives ranking loss (no dropout) over chunks of ``batch_size``."""
    if len(pairs) == 0:
        return 0.0
    anchors, positives = _pair_vectors(encoder, pairs, max_length)
    total = 0.0
    for sl in _chunks(len(pairs), batch_size):
        logits = scale * (anchors[sl] @ positives[sl].T).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total += float(-np.trace(log_softmax))
    return total / len(pairs)


def fine_tune_job(
    emit: Callable[[Any], None],
    encoder_dir: str | None,
    pairs: Sequence[Pair],
    loss_sets: dict[str, Sequence[Pair]],
    out_dir: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The training chain's fine-tuning stage, written to run in a child process
    (``isolate.run_isolated``): load the encoder (``None`` = the verified base), measure the loss
    on each of ``loss_sets``, fine-tune on ``pairs`` with ``options`` (``fine_tune``'s keywords),
    measure again, save to ``out_dir``. Emits ``("stage", fraction, message)`` as it goes and
    ``("step", step, loss, seconds since training began)`` per step."""
    batch, max_length = options["batch_size"], options["max_length"]

    def losses() -> dict[str, float]:
        return {name: pair_loss(encoder, ps, batch_size=batch, max_length=max_length) for name, ps in loss_sets.items() if len(ps) >= 2}

    emit(("stage", 0.01, "loading the encoder"))
    encoder = Encoder.load(encoder_dir)
    emit(("stage", 0.02, "loss before fine-tuning"))
    before = losses()
    emit(("stage", 0.05, "tracing the training step"))
    started = time.monotonic()
    result = fine_tune(encoder, pairs, on_step=lambda step, loss: emit(("step", step, float(loss), time.monotonic() - started)), **options)
    emit(("stage", 0.92, "loss after fine-tuning"))
    after = losses()
    emit(("stage", 0.97, "saving the encoder"))
    encoder.save(out_dir)
    return {"result": result, "before": before, "after": after}

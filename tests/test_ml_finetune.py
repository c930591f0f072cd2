"""A tiny fine-tune (4 steps, batch 8, max_length 32) learns its pairs and round-trips to disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from recommendations.ml.encoder import Encoder
from recommendations.ml.finetune import (
    fine_tune,
    make_batches,
    pair_accuracy,
    pair_loss,
)

# Arbitrary associations the base model cannot know: the loss starts near ln(8).
PAIRS = list(
    zip(
        [
            f"User likes: {w}"
            for w in (
                "red",
                "seven",
                "Monday",
                "piano",
                "granite",
                "owl",
                "vinegar",
                "Neptune",
            )
        ],
        [
            "a film about a lonely lighthouse keeper",
            "a heist in a casino",
            "two rival chefs in Paris",
            "a haunted boarding school",
            "a road trip across Australia",
            "a chess prodigy",
            "a submarine mutiny",
            "a wedding gone wrong",
        ],
        strict=True,
    )
)


@pytest.fixture(scope="module")
def encoder() -> Iterator[Encoder]:
    yield Encoder.load()  # its own copy: fine-tuning changes it in place


def test_make_batches_never_repeats_a_text() -> None:
    pairs = [
        ("a", "x"),
        ("a", "y"),
        ("b", "x"),
        ("c", "z"),
        ("d", "a"),
        ("e", "w"),
        ("f", "v"),
    ]
    batches = make_batches(pairs, 3, np.random.default_rng(0))
    for batch in batches:
        texts = [t for i in batch for t in pairs[i]]
        assert len(texts) == len(set(texts))
        assert 2 <= len(batch) <= 3
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))
    assert make_batches(pairs, 3, np.random.default_rng(0)) == batches


def test_no_pairs() -> None:
    result = fine_tune(None, [])  # type: ignore[arg-type]  # returns before touching the model
    assert result.steps == 0 and result.stopped_reason == "no_pairs"


def test_tiny_fine_tune_lowers_loss_and_round_trips(encoder: Encoder, tmp_path: Path) -> None:
    before_loss = pair_loss(encoder, PAIRS, max_length=32)
    before_acc = pair_accuracy(encoder, PAIRS, max_length=32)
    weights = [v.numpy().copy() for v in encoder.model.trainable_variables[:4]]
    steps: list[tuple[int, float]] = []

    result = fine_tune(
        encoder,
        PAIRS,
        batch_size=8,
        epochs=10,
        max_steps=4,
        lr=1e-4,
        max_length=32,
        on_step=lambda step, loss: steps.append((step, loss)),
    )

    assert result.steps == 4 and result.stopped_reason == "max_steps"
    assert result.pairs_used == len(PAIRS)
    assert [s for s, _ in steps] == [1, 2, 3, 4]
    assert result.losses == [loss for _, loss in steps]
    assert all(np.isfinite(result.losses)) and result.seconds > 0
    assert any(not np.array_equal(w, v.numpy()) for w, v in zip(weights, encoder.model.trainable_variables))
    after_loss = pair_loss(encoder, PAIRS, max_length=32)
    assert after_loss < 0.8 * before_loss
    assert pair_accuracy(encoder, PAIRS, max_length=32) >= before_acc

    saved = encoder.save(tmp_path / "tuned")
    assert (saved / "tf_model.h5").is_file()
    reloaded = Encoder.load(saved)
    texts = [t for pair in PAIRS for t in pair]
    np.testing.assert_array_equal(reloaded.embed(texts, max_length=32), encoder.embed(texts, max_length=32))

"""The offline pipeline keeps the content vectors (zero-shot or fine-tuned) whose hybrid validates
better, when its budget affords a second hybrid fit. No TensorFlow: the encoder and fine-tuning
are the deterministic fakes of test_recommend_offline."""

from __future__ import annotations

import numpy as np

from recommendations.ml import pipeline
from recommendations.ml.budget import Budget
from recommendations.ml.collab import carve_validation, stamp_matrix
from recommendations.ml.hybrid import HybridModel
from recommendations.ml.pipeline import Dataset, PipelineConfig, run_pipeline
from tests.test_recommend_offline import fakes  # noqa: F401  (fixture)


def validated(per_bucket: dict[int, tuple[float, int]]) -> HybridModel:
    model = HybridModel()
    for b, (ndcg, users) in per_bucket.items():
        model.params[f"val_ndcg_bucket{b}"] = ndcg
        model.params[f"val_users_bucket{b}"] = float(users)
    return model


def test_validation_ndcg_weighs_buckets_by_their_users() -> None:
    assert validated({0: (0.1, 100), 2: (0.4, 300)}).validation_ndcg() == (0.1 * 100 + 0.4 * 300) / 400
    assert validated({}).validation_ndcg() is None


def choose(first: HybridModel, second: HybridModel, first_is_tuned: bool, remaining: float = 1e6):
    base, tuned = np.zeros((3, 2)), np.ones((3, 2))
    budget = Budget(remaining)
    budget.stages["fit hybrid"] = 1.0
    calls: list[np.ndarray] = []

    def fit(vec: np.ndarray) -> HybridModel:
        calls.append(vec)
        return second

    info: dict = {}
    model, vectors, other = pipeline._choose_by_hybrid(first, tuned if first_is_tuned else base, base, tuned, fit, budget, 0.0, info, lambda _m: None)
    # The model not kept is handed back too (evaluate's ablation reuses it), never the kept one.
    assert other is (None if not calls else second if model is first else first)
    return model, vectors is tuned, info, calls


def test_the_better_validating_hybrid_is_kept() -> None:
    tuned_fit, base_fit = validated({2: (0.30, 500)}), validated({2: (0.31, 500)})
    model, kept_tuned, info, calls = choose(tuned_fit, base_fit, first_is_tuned=True)
    assert model is base_fit and not kept_tuned and len(calls) == 1
    assert info["vectors"] == "base" and info["vectors_rule"] == "hybrid validation"
    assert info["hybrid_val_ndcg"] == {"tuned": 0.30, "base": 0.31}
    # The other way round: the content rule picked base, the tuned hybrid validates better.
    model, kept_tuned, info, _ = choose(validated({2: (0.30, 500)}), tuned_fit := validated({2: (0.32, 500)}), first_is_tuned=False)
    assert model is tuned_fit and kept_tuned and info["vectors"] == "fine-tuned"


def test_ties_go_to_the_fine_tuned_vectors() -> None:
    first, second = validated({1: (0.2, 50)}), validated({1: (0.2, 50)})
    model, kept_tuned, _, _ = choose(first, second, first_is_tuned=False)
    assert model is second and kept_tuned


def test_the_second_fit_is_expected_to_cost_what_it_cannot_reuse() -> None:
    # The first fit took 1 s, 0.7 s of it reusable: 0.5 s left covers 1.2 x 0.3 s, not 1.2 x 1 s.
    first = validated({2: (0.3, 500)})
    first.reusable_seconds = 0.7
    model, _, info, calls = choose(first, second := validated({2: (0.4, 500)}), first_is_tuned=True, remaining=0.5)
    assert calls and model is second and info["second_hybrid_estimate_seconds"] == 0.3
    first.reusable_seconds = 0.0
    _, _, info, calls = choose(first, validated({2: (0.4, 500)}), first_is_tuned=True, remaining=0.5)
    assert not calls and info["second_hybrid_estimate_seconds"] == 1.0


def test_no_second_fit_without_the_budget_for_it() -> None:
    first = validated({2: (0.3, 500)})
    model, kept_tuned, info, calls = choose(first, validated({2: (0.9, 500)}), first_is_tuned=True, remaining=0.5)
    assert model is first and kept_tuned and not calls
    assert info["vectors_rule"] == "content validation (no budget for a second hybrid)"


def two_taste_dataset() -> Dataset:
    rng = np.random.default_rng(0)
    n_users, n_items = 200, 60
    users, items = [], []
    for u in range(n_users):
        mine = np.arange(u % 2, n_items, 2)
        picks = rng.choice(mine, size=int(rng.integers(8, 20)), replace=False)
        users += [u] * len(picks)
        items += picks.tolist()
    return Dataset(
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        users=np.array(users),
        items=np.array(items),
        values=np.full(len(users), 4.0),
        timestamps=np.arange(len(users), dtype=np.float64) + 1.0,
        texts=[f"film {i} genre {i % 2}" for i in range(n_items)],
    )


def test_pipeline_fits_both_hybrids_and_serves_the_kept_one(fakes) -> None:  # noqa: F811
    result = run_pipeline(two_taste_dataset(), PipelineConfig(k=5, budget_seconds=3600.0, isolate=False), log=lambda _m: None)
    info = result.info
    assert fakes["finetunes"] == 1 and info["vectors_rule"] == "hybrid validation"
    scores = info["hybrid_val_ndcg"]
    keep_tuned = scores["tuned"] >= scores["base"]
    assert info["vectors"] == ("fine-tuned" if keep_tuned else "base")
    assert (result.vectors is result.tuned_vectors) == keep_tuned
    assert round(result.model.validation_ndcg(), 4) == max(scores.values())
    assert "fit second hybrid" in result.budget["stages"]
    assert result.alternative is None  # only kept when asked for


def test_the_model_not_kept_is_the_one_a_refit_gives(fakes) -> None:  # noqa: F811
    """What evaluate's zero-shot ablation reuses equals fitting that hybrid again on the same carve."""
    data = two_taste_dataset()
    config = PipelineConfig(k=5, budget_seconds=3600.0, isolate=False, keep_alternative=True)
    result = run_pipeline(data, config, log=lambda _m: None)
    other = result.base_vectors if result.vectors is result.tuned_vectors else result.tuned_vectors
    assert result.alternative is not None and result.alternative is not result.model
    x = data.matrix()
    fit_x, val_x = carve_validation(x, seed=config.seed)
    stamps = stamp_matrix(data.users, data.items, data.timestamps, x.shape)
    refit = HybridModel(seed=config.seed, k=5).fit(fit_x, other, val=val_x, timestamps=stamps)
    np.testing.assert_allclose(result.alternative.score(x), refit.score(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(result.alternative.score(x), result.model.score(x))

"""EASE's temporal co-occurrence term (collab.temporal_cooccurrence and its use in the hybrid)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml import collab, hybrid
from recommendations.ml.collab import (
    carve_validation,
    fit_ease,
    mask_stamps,
    select_ease_params,
    stamp_matrix,
    temporal_cooccurrence,
)
from recommendations.ml.hybrid import HybridModel


def sequential(n_users: int = 120, n_items: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users walk through a ring of films in order (with skips), one rating per minute."""
    rng = np.random.default_rng(seed)
    users, items, stamps = [], [], []
    for u in range(n_users):
        start = rng.integers(n_items)
        length = rng.integers(4, 16)
        steps = np.cumsum(rng.integers(1, 3, size=length))
        films = np.unique((start + steps) % n_items)
        rng.shuffle(films)
        t0 = rng.integers(0, 10**6)
        for pos, i in enumerate(films):
            users.append(u)
            items.append(int(i))
            stamps.append(t0 + 60 * pos)
    return np.array(users), np.array(items), np.array(stamps, dtype=np.float64)


def stamped(users: np.ndarray, items: np.ndarray, stamps: np.ndarray, shape: tuple[int, int]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(the stamp matrix, the binary interaction matrix with the same cells)."""
    s = stamp_matrix(users, items, stamps, shape)
    x = s.copy()
    x.data[:] = 1.0
    return s, x


def brute_cooccurrence(users: np.ndarray, items: np.ndarray, stamps: np.ndarray, n_items: int, window: int) -> np.ndarray:
    out = np.zeros((n_items, n_items))
    for u in np.unique(users):
        sel = users == u
        order = sorted(zip(stamps[sel].tolist(), items[sel].tolist(), strict=True))
        seq = [i for _, i in order]
        for a in range(len(seq)):
            for b in range(a + 1, min(a + window + 1, len(seq))):
                if seq[a] != seq[b]:
                    out[seq[a], seq[b]] += 1
                    out[seq[b], seq[a]] += 1
    return out


@pytest.mark.parametrize("window", [1, 2, 5])
def test_cooccurrence_matches_brute_force(window: int) -> None:
    users, items, stamps = sequential()
    s = stamp_matrix(users, items, stamps, (users.max() + 1, 30))
    got = temporal_cooccurrence(s, window).toarray()
    assert np.array_equal(got, brute_cooccurrence(users, items, stamps, 30, window))
    assert np.array_equal(got, got.T) and np.all(np.diag(got) == 0)


def test_cooccurrence_window_zero_and_empty() -> None:
    users, items, stamps = sequential(10, 12)
    s = stamp_matrix(users, items, stamps, (10, 12))
    assert temporal_cooccurrence(s, 0).nnz == 0
    assert temporal_cooccurrence(sp.csr_matrix((3, 5)), 3).shape == (5, 5)


def test_stamp_matrix_is_positive_and_keeps_earliest_duplicate() -> None:
    m = stamp_matrix(np.array([0, 0, 1, 0]), np.array([2, 1, 2, 2]), np.array([50.0, 0.0, 10.0, 5.0]), (2, 3))
    assert m.data.min() >= 1.0
    assert m.nnz == 3
    # user 0 rated film 2 at 50 and at 5: the earliest (5, shifted by -0 + 1) is kept
    assert m[0, 2] == 6.0 and m[0, 1] == 1.0 and m[1, 2] == 11.0


def test_mask_stamps_keeps_exactly_the_masked_cells() -> None:
    users, items, stamps = sequential()
    s, x = stamped(users, items, stamps, (users.max() + 1, 30))
    fit, _val = carve_validation(x, seed=3)
    fs = mask_stamps(s, fit)
    assert fs.nnz == fit.nnz
    assert np.array_equal((fs != 0).toarray(), (fit != 0).toarray())
    assert np.allclose(fs.toarray(), s.toarray() * (fit.toarray() != 0))


def test_fit_ease_with_temporal_term_is_ease_on_augmented_gram() -> None:
    users, items, stamps = sequential(60, 15)
    s, x = stamped(users, items, stamps, (60, 15))
    x = sp.csr_matrix(x, dtype=np.float32)
    c = temporal_cooccurrence(s, 2)
    assert np.allclose(fit_ease(x, 5.0, temporal=(c, 0.0)), fit_ease(x, 5.0))
    g = (x.T @ x).toarray() + 1.5 * c.toarray() + 5.0 * np.eye(15)
    p = np.linalg.inv(g)
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(fit_ease(x, 5.0, temporal=(c, 1.5)), expected, atol=1e-5)


_REAL_COOCCURRENCE = collab.temporal_cooccurrence


def _spy_cooccurrence(monkeypatch: pytest.MonkeyPatch, module: object) -> list[sp.csr_matrix]:
    seen: list[sp.csr_matrix] = []
    real = _REAL_COOCCURRENCE

    def spy(stamps: sp.csr_matrix, window: int) -> sp.csr_matrix:
        seen.append(sp.csr_matrix(stamps).copy())
        return real(stamps, window)

    monkeypatch.setattr(module, "temporal_cooccurrence", spy)
    return seen


def test_selection_counts_only_the_fit_part(monkeypatch: pytest.MonkeyPatch) -> None:
    users, items, stamps = sequential()
    s, x = stamped(users, items, stamps, (users.max() + 1, 30))
    fit, val = carve_validation(x, seed=5)
    seen = _spy_cooccurrence(monkeypatch, collab)
    params, curve = select_ease_params(x, [(1.0, 0.0), (10.0, 1.0)], fit_val=(fit, val), stamps=s)
    best = max(curve, key=lambda key: curve[key])
    assert params["temporal_weight"] == (best[4] if len(best) == 5 else 0.0)
    assert seen, "the temporal candidates were not tried"
    for m in seen:
        assert np.array_equal((m != 0).toarray(), (fit != 0).toarray())  # no validation cell
    assert params["val_ndcg"] == max(curve.values())
    assert params["temporal_weight"] >= 0.0
    assert any(len(key) == 5 for key in curve)  # temporal candidates are on the curve


def test_hybrid_fit_has_no_validation_leakage_and_refits_on_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    users, items, stamps = sequential(200, 30, seed=1)
    n_users = users.max() + 1
    s, x = stamped(users, items, stamps, (n_users, 30))
    fit, val = carve_validation(x, seed=11)
    # Force the temporal term on (as a fixed setting), so that the cold simulations and the
    # refit use it too.
    real_select = hybrid.select_ease

    def select(*args: object, **kwargs: object) -> collab.EaseSelection:
        return real_select(*args, **{**kwargs, "fixed": (10.0, 0.0, 2, 1.5)})  # type: ignore[arg-type]

    monkeypatch.setattr(hybrid, "select_ease", select)
    seen_sel = _spy_cooccurrence(monkeypatch, collab)
    seen_fit = _spy_cooccurrence(monkeypatch, hybrid)
    model = HybridModel(seed=0, cold_repeats=2).fit(fit, None, val=val, timestamps=s)
    assert model.params["temporal_weight"] == 1.5 and model.params["temporal_window"] == 2.0
    assert len(seen_sel) == 1  # the fit part, counted once by the selection (its weights are reused)
    assert len(seen_fit) == 3  # two cold simulations, the refit
    fit_cells = (fit != 0).toarray()
    for m in seen_sel + seen_fit[:-1]:  # selection and cold simulations: subsets of the fit part
        cells = (m != 0).toarray()
        assert not np.any(cells & ~fit_cells)
    assert np.array_equal((seen_fit[-1] != 0).toarray(), (x != 0).toarray())  # final refit: fit + val
    # Serving needs no times, and the artifact round-trips.
    path = tmp_path / "h.npz"
    model.save(path)
    loaded = HybridModel.load(path)
    assert np.allclose(loaded.score(fit[:5]), model.score(fit[:5]), equal_nan=True)
    assert loaded.params["temporal_window"] == 2.0


def test_hybrid_triples_with_timestamps_matches_matrix_form() -> None:
    users, items, stamps = sequential(150, 30, seed=2)
    n_users = users.max() + 1
    a = HybridModel(seed=0, cold_repeats=1).fit((users, items, np.ones(users.size)), None, n_items=30, timestamps=stamps)
    s, x = stamped(users, items, stamps, (n_users, 30))
    b = HybridModel(seed=0, cold_repeats=1).fit(x, None, timestamps=s)
    assert a.params == b.params
    assert np.allclose(a.collab.weights, b.collab.weights)  # type: ignore[union-attr]


def test_timestamps_must_match_and_be_positive() -> None:
    x = sp.csr_matrix(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        HybridModel().fit(x, None, timestamps=sp.csr_matrix((4, 5)))
    bad = sp.csr_matrix(np.eye(4) * -1.0)
    with pytest.raises(ValueError, match="> 0"):
        HybridModel().fit(x, None, timestamps=bad)


def test_pipeline_uses_times_only_when_they_order_something() -> None:
    from recommendations.ml.pipeline import PipelineConfig, build_dataset, run_pipeline

    users, items, stamps = sequential(120, 30, seed=5)
    cfg = PipelineConfig(content=False, finetune=False, budget_seconds=600.0, cold_repeats=1)
    timed = run_pipeline(build_dataset(users, items, np.full(users.size, 4.0), stamps), cfg, log=lambda _m: None)
    assert timed.info["temporal"] is True
    assert "temporal_weight" in timed.model.params
    flat = run_pipeline(build_dataset(users, items, np.full(users.size, 4.0), np.zeros(users.size)), cfg, log=lambda _m: None)
    assert flat.info["temporal"] is False
    assert flat.model.params["temporal_weight"] == 0.0


def test_cost_model_counts_the_temporal_inverses() -> None:
    from recommendations.ml.budget import estimate_hybrid_seconds

    cal = (1000, 0.1)
    for n in (1500, 8000):
        plain = estimate_hybrid_seconds(n, 500, 3, calibration=cal)
        timed = estimate_hybrid_seconds(n, 500, 3, calibration=cal, temporal=True)
        assert timed > plain


@pytest.mark.parametrize("regrid", [True, False])
def test_every_candidate_is_scored_on_its_own_model(monkeypatch: pytest.MonkeyPatch, regrid: bool) -> None:
    """The selection reuses its Gram matrix in place (and recomputes the winner's inverse
    for the prior): each point of the curve must still be the validation nDCG of exactly
    the EASE it names, with and without the (λ, c) re-search of big catalogues."""
    users, items, stamps = sequential(150, 30, seed=3)
    s, x = stamped(users, items, stamps, (150, 30))
    fit, val = carve_validation(x, seed=5)
    if not regrid:
        monkeypatch.setattr(collab, "temporal_grid", lambda n: ([(2, 1.0), (4, 0.5)], []))
    prior = collab.content_prior(np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32), k=5)
    params, curve = select_ease_params(x, [(1.0, 0.0), (10.0, 1.0)], fit_val=(fit, val), stamps=s, prior=prior)
    users_v = np.flatnonzero((np.diff(val.indptr) > 0) & (np.diff(fit.indptr) > 0))
    xf, truth = sp.csr_matrix(fit[users_v], dtype=np.float32), sp.csr_matrix(val[users_v])
    fit_s = mask_stamps(s, fit)
    assert any(len(key) == 5 for key in curve) and any(key[2] > 0 for key in curve)
    for key, value in curve.items():
        lam, c, mu = key[:3]
        temporal = (temporal_cooccurrence(fit_s, int(key[3])), key[4]) if len(key) == 5 else None
        b = fit_ease(sp.csr_matrix(fit, dtype=np.float32), lam, c, prior, mu, temporal)
        assert value == pytest.approx(collab._val_ndcg(xf, truth, b, 10), abs=1e-9), key
    assert params["val_ndcg"] == max(curve.values())


@pytest.mark.parametrize("with_prior", [True, False])
def test_kept_weights_are_the_chosen_ease_on_the_fit_part(with_prior: bool) -> None:
    """``keep_weights`` hands back what ``fit_ease`` on the fit part with the chosen settings
    gives (the hybrid uses them instead of computing that inverse again)."""
    users, items, stamps = sequential(150, 30, seed=4)
    s, x = stamped(users, items, stamps, (150, 30))
    fit, val = carve_validation(x, seed=5)
    prior = collab.content_prior(np.random.default_rng(1).normal(size=(30, 8)).astype(np.float32), k=5) if with_prior else None
    chosen = collab.select_ease(x, [(1.0, 0.0), (10.0, 1.0)], fit_val=(fit, val), stamps=s, prior=prior, keep_weights=True)
    q = chosen.params
    window, alpha = int(q["temporal_window"]), q["temporal_weight"]
    temporal = (temporal_cooccurrence(mask_stamps(s, fit), window), alpha) if alpha > 0 else None
    expected = fit_ease(sp.csr_matrix(fit, dtype=np.float32), q["lam"], q["pop_reg"], prior, q["prior_weight"], temporal)
    assert chosen.fit_weights is not None
    assert np.allclose(chosen.fit_weights, expected, atol=1e-6)
    assert collab.select_ease(x, [(1.0, 0.0)], fit_val=(fit, val)).fit_weights is None  # only when asked

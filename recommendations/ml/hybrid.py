"""Hybrid ranker: collaborative + content + popularity, blended per user-activity bucket.

Features, each z-scored per user over the items the user has not seen (so that scales are
comparable across users and models):

1. collaborative: EASE, content-regularised when item vectors are given (the content prior
   pulls each item's weights towards its nearest films by embedding; its weight μ is
   chosen on validation and may be 0), and fitted with a temporal co-occurrence term when
   rating times are given (films rated next to each other in users' histories, see
   ``collab.temporal_cooccurrence``; its window and weight are validated and may be 0).
   The temporal term only changes the fitted item x item weights: serving needs no times.
   A low-rank term from implicit ALS (``lowrank``), then GF-CF's low-pass term, are added to
   those weights, each with a validated weight (0 a candidate): still one item x item matrix
   to serve;
2. content: cosine between the user's taste vector (mean of their films' vectors) and each
   film's vector;
3. popularity prior: log(1 + interaction count).

Blend weights are learnt per activity bucket (≤5, 6–20, >20 training interactions) by
maximising validation nDCG@10 over a small grid. The validation split is carved from the
training data only, and part of its users are artificially made cold (history truncated to
1–5 or 6–20 items) so that the cold buckets have enough users to learn from even when the
real data has none. The grid always contains "collaborative only", so on validation the
blend can never be worse than the collaborative model it builds on.

Also here: MMR and per-genre-cap diversity re-rankers, for optional use at serving time.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from .collab import (
    CollabModel,
    as_csr,
    binarize,
    carve_validation,
    content_prior,
    default_grid,
    fit_ease,
    mask_stamps,
    scores_ndcg,
    select_ease,
    stamp_matrix,
    temporal_cooccurrence,
)
from .lowrank import (
    LOWPASS_WEIGHTS,
    LOWRANK_WEIGHTS,
    add_lowrank,
    ials_item_factors,
    lowpass_basis,
    lowpass_from_basis,
    lowpass_grid,
    lowrank_grid,
    lowrank_weights,
    spread_ratio,
)
from .metrics import per_user_ndcg

T = TypeVar("T")

__all__ = [
    "BUCKET_EDGES",
    "FEATURES",
    "HybridModel",
    "LowRankTerms",
    "activity_bucket",
    "genre_cap_rerank",
    "mmr_rerank",
    "popularity_scores",
    "simulate_cold",
    "taste_scores",
    "zscore_rows",
]

BUCKET_EDGES: tuple[int, int] = (5, 20)
FEATURES: tuple[str, ...] = ("collab", "content", "popularity")
# Weight candidates for content and popularity relative to collab = 1 (scale-free after z).
_W_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)


def activity_bucket(n_interactions: np.ndarray) -> np.ndarray:
    """0 for ≤5, 1 for 6–20, 2 for >20 training interactions."""
    n = np.asarray(n_interactions)
    return np.digitize(n, [BUCKET_EDGES[0] + 0.5, BUCKET_EDGES[1] + 0.5]).astype(np.int64)


def popularity_scores(x: sp.csr_matrix) -> np.ndarray:
    """log(1 + number of users who interacted with each item); log tames the long head."""
    counts = np.asarray(binarize(sp.csr_matrix(x)).sum(axis=0)).ravel()
    return np.log1p(counts).astype(np.float32)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def taste_scores(x: sp.csr_matrix, item_vectors: np.ndarray) -> np.ndarray:
    """Zero-shot content score: cosine of the mean of the user's film vectors with each film."""
    v = _unit_rows(item_vectors)
    taste = _unit_rows(np.asarray(binarize(sp.csr_matrix(x)) @ v))
    return (taste @ v.T).astype(np.float32)


def zscore(values: np.ndarray) -> np.ndarray:
    """Whole-array z-score (computed in float64, returned as float32); all zeros when constant."""
    v = np.asarray(values, dtype=np.float64)
    std = float(v.std())
    return ((v - v.mean()) / std if std > 1e-12 else np.zeros_like(v)).astype(np.float32)


def rank_zscore(values: np.ndarray) -> np.ndarray:
    """Mid-ranks scaled to mean 0 and variance 1 for distinct values (a uniform on ±√3); all zeros
    when every value is the same."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    quantile = (rankdata(values) - 0.5) / n  # in (0, 1); ties share their mean rank
    return ((quantile - 0.5) * 2 * np.sqrt(3.0)).astype(np.float32)


def liking_prior(counts: np.ndarray, sums: np.ndarray, midpoint: float) -> np.ndarray:
    """The site's popularity prior from each film's number of ratings and their sum:
    ``Σ (rating - midpoint)`` counts a film up per liking and down per dislike (one 0.5★ does not
    make a film popular), as rank z-scores, bounded to ±√3 whatever the catalogue (z-scoring raw
    counts gave the only rated film of a new site a prior of ~20, above any taste score)."""
    return rank_zscore(np.asarray(sums, dtype=np.float64) - midpoint * np.asarray(counts, dtype=np.float64))


def zscore_rows(scores: np.ndarray, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Per-row z-scores computed over the non-excluded items; excluded items get -inf."""
    s = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        ex = sp.csr_matrix(exclude)
        rows = np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr))
        s[rows, ex.indices] = np.nan
    mean = np.nanmean(s, axis=1, keepdims=True)
    std = np.nanstd(s, axis=1, keepdims=True)
    z = (s - mean) / np.where(std > 1e-12, std, 1.0)
    return np.where(np.isnan(z), -np.inf, z)


def simulate_cold(x: sp.csr_matrix, fraction: float, rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    """Truncate a random ``fraction`` of users to 1–5 (half) or 6–20 (half) interactions."""
    x = sp.csr_matrix(x)
    n = x.shape[0]
    chosen = rng.choice(n, size=round(fraction * n), replace=False)
    keep_n = np.where(
        np.arange(chosen.size) < chosen.size // 2,
        rng.integers(1, 6, size=chosen.size),
        rng.integers(6, 21, size=chosen.size),
    )
    target = np.diff(x.indptr).copy()
    target[chosen] = np.minimum(target[chosen], keep_n)
    # Random order inside each row, keep the first `target` entries.
    noise = rng.random(x.nnz)
    rows = np.repeat(np.arange(n), np.diff(x.indptr))
    order = np.lexsort((noise, rows))
    rank = np.arange(x.nnz) - np.repeat(x.indptr[:-1], np.diff(x.indptr))
    keep = np.zeros(x.nnz, dtype=bool)
    keep[order] = rank < np.repeat(target, np.diff(x.indptr))
    coo = x.tocoo()
    out = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=x.shape)
    return out, np.sort(chosen)


def _fast_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _weight_grid(has_content: bool) -> list[tuple[float, float, float]]:
    contents = _W_GRID if has_content else (0.0,)
    grid = [(1.0, wc, wp) for wc in contents for wp in _W_GRID]
    # Without collaborative signal (very cold users may be better served by content+pop).
    grid += [(0.0, 1.0, wp) for wp in _W_GRID] if has_content else []
    grid.append((0.0, 0.0, 1.0))
    return grid


@dataclass
class FactorCache:
    """Low-rank factors (n x k, small) by the rows they were fitted on and their setting.

    A hybrid fit needs the same factors more than once (a term's selection, then its use), and
    a second fit on the same data with other content vectors needs all of them again. The n x n
    terms are rebuilt from the factors (cheap), never kept."""

    entries: dict[tuple[bytes, object], object] = field(default_factory=dict)
    seconds: float = 0.0  # spent computing what is cached

    def get(self, rows: sp.csr_matrix, setting: object, make: Callable[[], T]) -> T:
        key = (_digest(rows), setting)
        if key not in self.entries:
            started = time.perf_counter()
            self.entries[key] = make()
            self.seconds += time.perf_counter() - started
        return self.entries[key]  # type: ignore[return-value]


def _digest(x: sp.csr_matrix) -> bytes:
    """A fingerprint of a sparse matrix's shape, pattern and values."""
    x = sp.csr_matrix(x)
    h = hashlib.blake2b(digest_size=16)
    for part in (np.asarray(x.shape, np.int64), x.indptr.astype(np.int64), x.indices.astype(np.int64), x.data.astype(np.float64)):
        h.update(part.tobytes())
    return h.digest()


@dataclass(frozen=True)
class LowRankTerms:
    """The validated low-rank terms added to EASE's weights (``lowrank.py``); None: not used."""

    ials: tuple[int, float, float] | None = None  # (factors, w0, ridge)
    ials_weight: float = 0.0
    lowpass: int | None = None  # singular vectors kept
    lowpass_weight: float = 0.0
    seed: int = 0
    cache: FactorCache = field(default_factory=FactorCache, compare=False, repr=False)

    def ials_term(self, rows: sp.csr_matrix, cfg: tuple[int, float, float]) -> np.ndarray:
        v = self.cache.get(rows, ("ials", cfg, self.seed), lambda: ials_item_factors(rows, *cfg, seed=self.seed))
        return lowrank_weights(rows, v, cfg[1], cfg[2])

    def lowpass_term(self, rows: sp.csr_matrix, k: int) -> np.ndarray | None:
        basis = self.cache.get(rows, ("lowpass", k), lambda: lowpass_basis(rows, k))
        return lowpass_from_basis(basis) if basis is not None else None

    def add(self, b: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """``b`` (EASE's weights fitted on ``rows``) plus the terms fitted on ``rows``, in place."""
        if self.ials is not None:
            add_lowrank(b, rows, self.ials_term(rows, self.ials), self.ials_weight)
        if self.lowpass is not None and (term := self.lowpass_term(rows, self.lowpass)) is not None:
            add_lowrank(b, rows, term, self.lowpass_weight)
        return b


@dataclass
class HybridModel:
    """Per-bucket linear blend of z-scored collaborative, content and popularity scores."""

    seed: int = 7
    k: int = 10
    cold_fraction: float = 0.4
    cold_repeats: int = 3
    content_k: int = 50
    collab: CollabModel | None = None
    item_vectors: np.ndarray | None = None
    popularity: np.ndarray | None = None
    weights: np.ndarray = field(default_factory=lambda: np.tile([1.0, 0.0, 0.0], (3, 1)))
    params: dict[str, float] = field(default_factory=dict)
    # What a second fit on the same data (other content vectors, ``fit(reuse=...)``) can take
    # from this one, and the seconds this fit spent on it.
    factors: FactorCache = field(default_factory=FactorCache, repr=False, compare=False)
    reusable_seconds: float = field(default=0.0, repr=False, compare=False)

    # ---- fitting -------------------------------------------------------------------------
    def fit(
        self,
        train: sp.spmatrix | tuple[np.ndarray, np.ndarray, np.ndarray],
        item_vectors: np.ndarray | None = None,
        val: sp.spmatrix | None = None,
        *,
        n_items: int | None = None,
        timestamps: np.ndarray | sp.spmatrix | None = None,
        reuse: HybridModel | None = None,
    ) -> HybridModel:
        """Learn EASE hyper-parameters and blend weights on validation, then refit on all.

        Without ``val``, a per-user validation split is carved from ``train``. With ``val``
        (same shape as ``train``), it is used for selection and the final collaborative model
        is fitted on ``train + val``. The test split must never be passed here.

        ``timestamps`` (optional) are the rating times: one per triple when ``train`` is
        ``(user, item, value)`` triples, else a user x item sparse matrix of times covering
        ``train`` (and ``val``), e.g. ``collab.stamp_matrix``. They enable the temporal
        co-occurrence term, whose counts come from the validation fit part for selection
        and from all of ``train`` (+ ``val``) for the final fit.

        ``reuse``: a model fitted on the same data and split (other content vectors allowed).
        What does not depend on the vectors is taken from it: EASE's (λ, c) and temporal
        settings (only the content prior's weight is validated again) and the low-rank factors.
        The result is the same as without it, in less time.
        """
        stamps: sp.csr_matrix | None = None
        if isinstance(train, tuple):
            if n_items is None:
                raise ValueError("n_items is required with (user, item, value) triples")
            x = binarize(as_csr(train, n_items))
            if timestamps is not None:
                stamps = stamp_matrix(train[0], train[1], np.asarray(timestamps), (x.shape[0], n_items))
        else:
            x = binarize(sp.csr_matrix(train, dtype=np.float32))
            if timestamps is not None:
                stamps = sp.csr_matrix(timestamps, dtype=np.float64)
                if stamps.shape != x.shape:
                    raise ValueError(f"timestamps have shape {stamps.shape}, train has {x.shape}")
                if stamps.nnz and stamps.data.min() <= 0:
                    raise ValueError("timestamps must be > 0 (use collab.stamp_matrix)")
        rng = np.random.default_rng(self.seed)
        if val is None:
            fit_x, val_x = carve_validation(x, seed=self.seed)
            full = x
        else:
            val_x = binarize(sp.csr_matrix(val, dtype=np.float32))
            fit_x = x
            full = binarize(x + val_x)

        vectors = _unit_rows(item_vectors) if item_vectors is not None else None
        if vectors is not None and vectors.shape[0] != x.shape[1]:
            raise ValueError("item_vectors must have one row per item")
        prior = content_prior(vectors, k=self.content_k) if vectors is not None else None

        # 1. Collaborative hyper-parameters on the plain validation split (as plain EASE
        #    would choose them), so the blend's base is never a worse-tuned EASE.
        fixed = None
        if reuse is not None:
            self.factors = reuse.factors
            q = reuse.params
            fixed = (q["lam"], q["pop_reg"], int(q["temporal_window"]), q["temporal_weight"])
        factor_seconds = self.factors.seconds
        selection = select_ease(
            full,
            default_grid(x.shape[1]),
            prior=prior,
            k=self.k,
            fit_val=(fit_x, val_x),
            stamps=stamps,
            fixed=fixed,
            keep_weights=True,
        )
        chosen, fit_b = selection.params, selection.fit_weights
        del selection
        assert fit_b is not None
        lam, pop_reg, mu = chosen["lam"], chosen["pop_reg"], chosen["prior_weight"]
        window, alpha = int(chosen["temporal_window"]), float(chosen["temporal_weight"])
        use_time = stamps is not None and alpha > 0.0 and window > 0

        def temporal(rows: sp.csr_matrix) -> tuple[sp.csr_matrix, float] | None:
            """The temporal term counted on exactly the ratings in ``rows`` (no leakage)."""
            if not use_time:
                return None
            assert stamps is not None
            return temporal_cooccurrence(mask_stamps(stamps, rows), window), alpha

        # 1b. The low-rank terms (lowrank.py), their settings and weights on the same split.
        #     The fit part's EASE weights come from the search's own inverse.
        terms = self.select_lowrank_terms(fit_x, val_x, fit_b)
        del fit_b

        def collab_weights(rows: sp.csr_matrix) -> np.ndarray:
            return terms.add(fit_ease(rows, lam, pop_reg, prior, mu, temporal(rows)), rows)

        # 2. Blend weights on the same split with part of the users made cold, so that the
        #    cold buckets have users to learn from.
        #    Several random draws are pooled: one draw leaves ~150 users per cold bucket,
        #    too few for a stable choice.
        per_user: list[list[np.ndarray]] = [[], [], []]
        for _ in range(self.cold_repeats):
            cold_x, _ = simulate_cold(fit_x, self.cold_fraction, rng)
            # Dropped at once, so no n² matrix outlives its simulation.
            b_cold = collab_weights(cold_x)
            grid_scores = self._grid_scores(cold_x, val_x, b_cold, vectors)
            del b_cold
            for bkt, scores in enumerate(grid_scores):
                per_user[bkt].append(scores)
        self.weights = self._pick_weights([np.vstack(p) for p in per_user], vectors is not None)
        # 3. Refit on everything with the validated hyper-parameters.
        params = {
            "lam": lam,
            "pop_reg": pop_reg,
            "prior_weight": mu,
            "binary": 1.0,
            "temporal_window": float(window if use_time else 0),
            "temporal_weight": alpha if use_time else 0.0,
            "lowrank_factors": float(terms.ials[0]) if terms.ials else 0.0,
            "lowrank_w0": float(terms.ials[1]) if terms.ials else 0.0,
            "lowrank_reg": float(terms.ials[2]) if terms.ials else 0.0,
            "lowrank_weight": terms.ials_weight,
            "lowpass_k": float(terms.lowpass or 0),
            "lowpass_weight": terms.lowpass_weight,
        }
        self.collab = CollabModel("ease", x.shape[1], collab_weights(full), params)
        self.item_vectors = vectors
        self.popularity = popularity_scores(full)
        self.params.update({**params, "val_ndcg_collab": chosen["val_ndcg"]})
        # The (λ, c) and temporal search, and the factors this fit computed.
        self.reusable_seconds = chosen["search_seconds"] + self.factors.seconds - factor_seconds
        return self

    def select_lowrank_terms(self, fit_x: sp.csr_matrix, val_x: sp.csr_matrix, b: np.ndarray) -> LowRankTerms:
        """The iALS term, then the low-pass term on top of it, each with the settings and weight
        that validate best when added to ``b`` (EASE's weights on ``fit_x``, modified in place)."""
        terms = LowRankTerms(seed=self.seed, cache=self.factors)
        self.params["val_ndcg_ease_fit"] = self._val_ndcg(fit_x, val_x, b)
        ials, ials_weight, self.params["val_ndcg_lowrank"] = self._select_term(
            fit_x, val_x, b, lowrank_grid(fit_x.shape[1]), lambda cfg: terms.ials_term(fit_x, cfg), LOWRANK_WEIGHTS
        )
        if ials is not None:
            add_lowrank(b, fit_x, terms.ials_term(fit_x, ials), ials_weight)
        lowpass, lowpass_weight, self.params["val_ndcg_lowpass"] = self._select_term(
            fit_x, val_x, b, lowpass_grid(fit_x.shape[1]), lambda k: terms.lowpass_term(fit_x, k), LOWPASS_WEIGHTS
        )
        return LowRankTerms(ials, ials_weight, lowpass, lowpass_weight, self.seed, self.factors)

    def _val_ndcg(self, fit_x: sp.csr_matrix, val_x: sp.csr_matrix, b: np.ndarray) -> float:
        users = np.flatnonzero((np.diff(val_x.indptr) > 0) & (np.diff(fit_x.indptr) > 0))
        xf = sp.csr_matrix(fit_x[users], dtype=np.float32)
        return scores_ndcg(xf, binarize(sp.csr_matrix(val_x[users])), np.asarray(xf @ b), self.k)

    def _select_term(
        self,
        fit_x: sp.csr_matrix,
        val_x: sp.csr_matrix,
        b: np.ndarray,
        grid: list[T],
        make: Callable[[T], np.ndarray | None],
        weights: tuple[float, ...],
    ) -> tuple[T | None, float, float]:
        """The setting and weight whose term ``make(setting)``, added to the fit part's weights
        ``b`` (as ``add_lowrank`` adds it), give the best validation nDCG@k, and that nDCG;
        ``(None, 0.0, nDCG of b)`` when ``b`` alone is best."""
        users = np.flatnonzero((np.diff(val_x.indptr) > 0) & (np.diff(fit_x.indptr) > 0))
        xf = sp.csr_matrix(fit_x, dtype=np.float32)
        truth = binarize(sp.csr_matrix(val_x[users]))
        scores_b = np.asarray(xf @ b)  # every fit user's: the spread ratio is taken over them all
        xf_val, val_b = xf[users], scores_b[users]
        best = scores_ndcg(xf_val, truth, val_b, self.k)
        chosen: tuple[T | None, float] = (None, 0.0)
        for cfg in grid:
            term = make(cfg)
            if term is None:
                continue
            scores_t = np.asarray(xf @ term)
            del term
            ratio = spread_ratio(scores_b, scores_t)
            val_t = scores_t[users]
            for w in weights:
                if w == 0.0:
                    continue
                value = scores_ndcg(xf_val, truth, val_b + w * ratio * val_t, self.k)
                if value > best:
                    best, chosen = value, (cfg, w)
        return chosen[0], chosen[1], best

    def _features(
        self,
        x: sp.csr_matrix,
        b: np.ndarray | sp.csr_matrix,
        vectors: np.ndarray | None,
        popularity: np.ndarray,
    ) -> list[np.ndarray]:
        xb = binarize(x)
        collab = np.asarray(xb @ b)
        feats = [zscore_rows(collab, xb)]
        if vectors is not None:
            feats.append(zscore_rows(taste_scores(xb, vectors), xb))
        else:
            feats.append(np.zeros_like(feats[0]))
        feats.append(zscore_rows(np.tile(popularity, (x.shape[0], 1)), xb))
        for f in feats[1:]:
            f[~np.isfinite(feats[0])] = -np.inf
        return feats

    def _grid_scores(
        self,
        fit_x: sp.csr_matrix,
        val_x: sp.csr_matrix,
        b: np.ndarray,
        vectors: np.ndarray | None,
    ) -> list[np.ndarray]:
        """Per bucket, a (n_users, n_grid) array of validation nDCG@k for each weight triple."""
        users = np.flatnonzero((np.diff(val_x.indptr) > 0) & (np.diff(fit_x.indptr) > 0))
        xf = fit_x[users]
        truth = sp.csr_matrix(val_x[users])
        feats = self._features(xf, b, vectors, popularity_scores(fit_x))
        finite = [np.where(np.isfinite(f), f, 0.0) for f in feats]
        seen = ~np.isfinite(feats[0])
        buckets = activity_bucket(np.diff(xf.indptr))
        grid = _weight_grid(vectors is not None)
        out = []
        for bkt in range(3):
            rows = np.flatnonzero(buckets == bkt)
            scores = np.zeros((rows.size, len(grid)))
            f_rows = [f[rows] for f in finite]
            t_rows = truth[rows]
            for g, w in enumerate(grid):
                if rows.size == 0:
                    break
                s = w[0] * f_rows[0] + w[1] * f_rows[1] + w[2] * f_rows[2]
                s[seen[rows]] = -np.inf
                scores[:, g] = per_user_ndcg(_fast_top_k(s, self.k), t_rows, self.k)
            out.append(scores)
        return out

    def _pick_weights(self, per_user: list[np.ndarray], has_content: bool) -> np.ndarray:
        """One-standard-error rule per bucket, against over-fitting a noisy validation set.

        Among weight triples whose mean validation nDCG is within one (paired) standard
        error of the best, take the one that leans least on content and popularity. Plain
        arg-max picks blends whose validation gains are noise and lose on test.
        """
        grid = _weight_grid(has_content)
        # Collab-only is the simplest; without collab, the blend is the least simple.
        complexity = np.array([(wc + wp) if wcol > 0 else 1e6 + wc for wcol, wc, wp in grid])
        weights = np.tile([1.0, 0.0, 0.0], (3, 1))
        for bkt, scores in enumerate(per_user):
            n_users = scores.shape[0]
            if n_users < 30:  # too few users to learn from: stay with collaborative only
                continue
            means = scores.mean(axis=0)
            best = int(np.argmax(means))
            diff = scores[:, [best]] - scores
            se = diff.std(axis=0, ddof=1) / np.sqrt(n_users)
            ok = np.flatnonzero(means >= means[best] - se)
            pick = int(ok[np.argmin(complexity[ok])])
            weights[bkt] = grid[pick]
            self.params[f"val_ndcg_bucket{bkt}"] = float(means[pick])
            self.params[f"val_users_bucket{bkt}"] = float(n_users)
        return weights

    def validation_ndcg(self) -> float | None:
        """The fitted blend's validation nDCG@k over the (partly made-cold) validation users of
        every bucket it learnt weights for, user-weighted; None when no bucket had enough users.
        Two fits on the same data and seed see the same users, so this compares them."""
        buckets = [b for b in range(3) if f"val_users_bucket{b}" in self.params]
        users = sum(self.params[f"val_users_bucket{b}"] for b in buckets)
        if not users:
            return None
        return sum(self.params[f"val_ndcg_bucket{b}"] * self.params[f"val_users_bucket{b}"] for b in buckets) / users

    # ---- serving -------------------------------------------------------------------------
    def score(self, user_rows: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Blended scores (n_rows, n_items); items already in ``user_rows`` get -inf."""
        if self.collab is None or self.popularity is None:
            raise RuntimeError("model is not fitted")
        x = binarize(sp.csr_matrix(user_rows, dtype=np.float32))
        feats = self._features(x, self.collab.weights, self.item_vectors, self.popularity)
        w = self.weights[activity_bucket(np.diff(x.indptr))]
        out = np.zeros(feats[0].shape, dtype=np.float64)
        for j, f in enumerate(feats):
            # Skip zero weights so -inf * 0 never yields NaN.
            wj = w[:, j : j + 1]
            out += np.where(wj != 0.0, wj * np.where(np.isfinite(f), f, 0.0), 0.0)
        out[~np.isfinite(feats[0])] = -np.inf
        return out.astype(np.float32)

    def rank(self, user_rows: sp.spmatrix | np.ndarray, k: int = 10) -> np.ndarray:
        s = self.score(user_rows)
        return _fast_top_k(s, min(k, s.shape[1]))

    def describe(self) -> dict[str, object]:
        return {
            "params": dict(self.params),
            "weights": {
                b: dict(zip(FEATURES, map(float, self.weights[i]), strict=True)) for i, b in enumerate(("<=5", "6-20", ">20"))
            },
        }

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        if self.collab is None or self.popularity is None:
            raise RuntimeError("model is not fitted")
        arrays: dict[str, np.ndarray] = {
            "collab_weights": np.asarray(self.collab.weights, dtype=np.float32),
            "popularity": self.popularity.astype(np.float32),
            "blend_weights": self.weights.astype(np.float64),
            "param_names": np.array(list(self.params.keys()), dtype=str),
            "param_values": np.array(list(self.params.values()), dtype=np.float64),
            "config": np.array([self.seed, self.k, self.cold_fraction, self.content_k, self.cold_repeats], dtype=np.float64),
        }
        if self.item_vectors is not None:
            arrays["item_vectors"] = self.item_vectors.astype(np.float32)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HybridModel:
        with np.load(path, allow_pickle=False) as z:
            params = dict(zip((str(n) for n in z["param_names"]), map(float, z["param_values"]), strict=True))
            seed, k, cold_fraction, content_k, cold_repeats = z["config"].tolist()
            b = z["collab_weights"]
            model = cls(
                seed=int(seed),
                k=int(k),
                cold_fraction=cold_fraction,
                content_k=int(content_k),
                cold_repeats=int(cold_repeats),
            )
            model.collab = CollabModel(
                "ease",
                b.shape[0],
                b,
                {key: params[key] for key in ("lam", "pop_reg", "prior_weight", "binary") if key in params},
            )
            model.popularity = z["popularity"]
            model.weights = z["blend_weights"].astype(np.float64)
            model.item_vectors = z["item_vectors"] if "item_vectors" in z.files else None
            model.params = params
        return model


# ---- diversity re-rankers (optional at serving time) ---------------------------------------


def mmr_rerank(
    scores: np.ndarray,
    item_vectors: np.ndarray,
    k: int = 10,
    trade_off: float = 0.8,
    candidates: int = 100,
) -> np.ndarray:
    """Maximal Marginal Relevance over the top ``candidates`` of one user's ``scores``.

    Picks ``argmax trade_off·rel(i) − (1−trade_off)·max_{j∈picked} cos(i, j)``, with the
    relevance min-max scaled to [0, 1] over the candidates so the trade-off is scale-free.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    eligible = np.flatnonzero(np.isfinite(s))
    if eligible.size == 0:
        return np.zeros(0, dtype=np.int64)
    n_c = min(candidates, eligible.size)
    cand = eligible[np.argsort(-s[eligible], kind="stable")[:n_c]]
    rel = s[cand]
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    v = _unit_rows(np.asarray(item_vectors)[cand])
    sim = v @ v.T
    picked: list[int] = []
    max_sim = np.full(n_c, -np.inf)
    available = np.ones(n_c, dtype=bool)
    for _ in range(min(k, n_c)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        obj = np.where(available, trade_off * rel - (1.0 - trade_off) * penalty, -np.inf)
        j = int(np.argmax(obj))
        picked.append(j)
        available[j] = False
        max_sim = np.maximum(max_sim, sim[j])
    return cand[np.asarray(picked, dtype=np.int64)]


def genre_cap_rerank(ranked: np.ndarray, item_genres: np.ndarray, k: int = 10, cap: int = 3) -> np.ndarray:
    """Walk a ranked list and skip items whose *primary* genre already has ``cap`` picks.

    ``item_genres`` is an (n_items, n_genres) 0/1 matrix; the primary genre is the first set
    flag. Skipped items are appended at the end if fewer than k items pass the cap.
    """
    counts: dict[int, int] = {}
    kept: list[int] = []
    skipped: list[int] = []
    genres = np.asarray(item_genres)
    for item in np.asarray(ranked).ravel():
        if item < 0:
            continue
        flags = np.flatnonzero(genres[item])
        g = int(flags[0]) if flags.size else -1
        if g >= 0 and counts.get(g, 0) >= cap:
            skipped.append(int(item))
            continue
        counts[g] = counts.get(g, 0) + 1
        kept.append(int(item))
        if len(kept) == k:
            break
    kept += skipped[: k - len(kept)]
    return np.asarray(kept, dtype=np.int64)

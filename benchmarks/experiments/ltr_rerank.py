"""Experiment (not adopted): a LightGBM lambdarank re-ranker over temporal-EASE candidates, ML-100K.

Needs LightGBM, which is not a project dependency: ``.venv/bin/pip install lightgbm``.
Usage: ``.venv/bin/python benchmarks/experiments/ltr_rerank.py [--filter-by user|item] [--candidates 50]``

Stage 1 is the temporal EASE the hybrid uses (parameters validated as in ``select_ease_params``).
The re-ranker learns on the validation carve: features from the fit part, labels from the validation
part; its configuration is chosen on 20 % of the validation users held out. The test split is scored
once, for the report. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recommendations.ml.collab import (
    binarize,
    carve_validation,
    default_grid,
    fit_ease,
    fit_rp3beta,
    mask_stamps,
    select_ease_params,
    stamp_matrix,
    temporal_cooccurrence,
)
from recommendations.ml.evaluation import DATA_DIR, load_ml100k, make_split
from recommendations.ml.metrics import per_user_ndcg, ranking_metrics, top_k

DAY = 86400.0
CONFIGS = ((0.05, 31, 50), (0.02, 15, 100), (0.02, 7, 200), (0.01, 63, 100))  # learning rate, leaves, min leaf


def stage1(x: sp.csr_matrix, stamps: sp.csr_matrix, params: dict[str, float]) -> list[np.ndarray]:
    """Scores of temporal EASE (the candidates' source), plain EASE and RP3beta."""
    window, alpha = int(params["temporal_window"]), params["temporal_weight"]
    temporal = (temporal_cooccurrence(mask_stamps(stamps, x), window), alpha) if alpha > 0 else None
    ease_t = fit_ease(x, params["lam"], params["pop_reg"], None, 0.0, temporal)
    ease = fit_ease(x, 400.0, 1.0)
    rp3 = fit_rp3beta(x, 1.0, 0.5)
    return [np.asarray(x @ ease_t, np.float64), np.asarray(x @ ease, np.float64), np.asarray((x @ rp3).todense(), np.float64)]


def _per_user_times(st: sp.csr_matrix, fn: np.ufunc | object) -> np.ndarray:
    return np.array([fn(st.data[a:b]) if b > a else 0.0 for a, b in zip(st.indptr[:-1], st.indptr[1:], strict=True)])


def features(x: sp.csr_matrix, stamps: sp.csr_matrix, ratings: sp.csr_matrix, years: np.ndarray, genres: np.ndarray,
             scores: list[np.ndarray], n_cand: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, items, feature rows) for each user's top ``n_cand`` unseen films by temporal EASE."""
    n_users, n_items = x.shape
    seen = x.toarray() > 0
    cand = np.argsort(-np.where(seen, -np.inf, scores[0]), axis=1)[:, :n_cand]
    users, items = np.repeat(np.arange(n_users), n_cand), cand.ravel()

    def z(m: np.ndarray) -> np.ndarray:
        mm = np.where(seen, np.nan, m)
        return ((m - np.nanmean(mm, axis=1, keepdims=True)) / (np.nanstd(mm, axis=1, keepdims=True) + 1e-9))[users, items]

    def rank(m: np.ndarray) -> np.ndarray:
        order = np.argsort(-np.where(seen, -np.inf, m), axis=1)
        r = np.empty_like(order)
        r[np.arange(n_users)[:, None], order] = np.arange(n_items)[None, :]
        return r[users, items].astype(float)

    cnt_i, cnt_u = np.asarray(x.sum(axis=0)).ravel(), np.asarray(x.sum(axis=1)).ravel()
    st = mask_stamps(stamps, x)
    coo = st.tocoo()
    order = np.lexsort((coo.data, coo.col))
    key = coo.col[order] * 1e10 + coo.data[order]  # sorted (film, time)
    film_t = sp.csr_matrix(st.T)
    first_i, med_i = _per_user_times(film_t, np.min), _per_user_times(film_t, np.median)
    umin, umax, umed = _per_user_times(st, np.min), _per_user_times(st, np.max), _per_user_times(st, np.median)
    all_t = np.sort(coo.data)

    def local_share(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The film's ratings in [lo, hi], raw (log) and relative to all ratings then and its total."""
        n = (np.searchsorted(key, items * 1e10 + hi, side="right") - np.searchsorted(key, items * 1e10 + lo)).astype(float)
        total = (np.searchsorted(all_t, hi, side="right") - np.searchsorted(all_t, lo)).astype(float)
        return np.log1p(n), n / np.maximum(total, 1) * all_t.size / np.maximum(cnt_i[items], 1)

    span = local_share(umin[users], umax[users])
    month = local_share(umed[users] - 15 * DAY, umed[users] + 15 * DAY)
    profile = (x @ genres) / np.maximum(cnt_u[:, None], 1)
    affinity = (profile[users] * genres[items]).sum(axis=1) / np.maximum(genres[items].sum(axis=1), 1)
    mean_rating = np.asarray(ratings.multiply(x).sum(axis=0)).ravel() / np.maximum(cnt_i, 1)
    user_year = (x @ years) / np.maximum(cnt_u, 1)
    rows = np.column_stack([
        scores[0][users, items], z(scores[0]), np.tile(np.arange(n_cand), n_users).astype(float),
        z(scores[1]), rank(scores[1]), z(scores[2]), rank(scores[2]),
        np.log1p(cnt_i[items]), np.log1p(cnt_u[users]),
        (first_i[items] - umax[users]) / DAY, (umin[users] - med_i[items]) / DAY, (umed[users] - med_i[items]) / DAY,
        (umax[users] - umin[users]) / DAY, *span, *month,
        affinity, mean_rating[items], years[items] - user_year[users],
    ])  # fmt: skip
    return users, items, rows


def groups(users: np.ndarray) -> np.ndarray:
    counts = np.bincount(users)
    return counts[counts > 0]


def main() -> None:
    import lightgbm as lgb

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filter-by", choices=("user", "item"), default="user")
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    n_cand = args.candidates
    data = load_ml100k(args.data_dir)
    train, test, _ = make_split(data, args.filter_by, 42)
    stamps = stamp_matrix(data.users, data.items, data.timestamps, train.shape)
    ratings = sp.csr_matrix((data.ratings, (data.users, data.items)), shape=train.shape)
    years = np.array([float(t.strip()[-5:-1]) if t.strip()[-5:-1].isdigit() else 1995.0 for t in data.titles])
    side = (stamps, ratings, years, data.genres)

    x = binarize(train)
    fit_x, val_x = carve_validation(x, seed=7)
    params, _ = select_ease_params(x, default_grid(x.shape[1]), fit_val=(fit_x, val_x), stamps=stamps)
    print("stage 1 (temporal EASE):", params)
    u_v, i_v, f_v = features(fit_x, *side, stage1(fit_x, stamps, params), n_cand)
    y_v = (np.asarray(val_x[u_v, i_v]).ravel() > 0).astype(int)
    print(f"candidates hold {y_v.sum() / val_x.nnz:.1%} of the validation films")
    held = np.random.default_rng(0).random(x.shape[0]) < 0.2
    learn = ~held[u_v]
    held_users = np.flatnonzero(held & (np.diff(val_x.indptr) > 0))
    cand_v = i_v.reshape(-1, n_cand)

    def held_ndcg(pred: np.ndarray) -> float:
        order = np.argsort(-pred.reshape(-1, n_cand)[held_users], axis=1, kind="stable")[:, :10]
        return float(per_user_ndcg(np.take_along_axis(cand_v[held_users], order, axis=1), val_x[held_users], 10).mean())

    print(f"held-out validation users, stage-1 order: {held_ndcg(-np.tile(np.arange(n_cand), x.shape[0]).astype(float)):.4f}")
    base = dict(objective="lambdarank", metric="ndcg", ndcg_eval_at=[10], feature_fraction=0.8, bagging_fraction=0.8,
                bagging_freq=1, lambdarank_truncation_level=20, verbose=-1, num_threads=2)  # fmt: skip
    learn_set = lgb.Dataset(f_v[learn], y_v[learn], group=groups(u_v[learn]))
    best: tuple[float, dict[str, float], int] | None = None
    for lr, leaves, min_leaf in CONFIGS:
        cfg = {**base, "learning_rate": lr, "num_leaves": leaves, "min_data_in_leaf": min_leaf}
        model = lgb.train(cfg, learn_set, 600)
        curve = {it: held_ndcg(model.predict(f_v, num_iteration=it)) for it in (25, 50, 100, 200, 400, 600)}
        print(f"  lr {lr}, {leaves} leaves, min leaf {min_leaf}:", {k: round(v, 4) for k, v in curve.items()})
        it = max(curve, key=curve.__getitem__)
        if best is None or curve[it] > best[0]:
            best = (curve[it], cfg, it)
    assert best is not None
    print(f"chosen on held-out users: {best[0]:.4f} at {best[2]} trees")
    final = lgb.train(best[1], lgb.Dataset(f_v, y_v, group=groups(u_v)), best[2])

    s = stage1(x, stamps, params)
    _, i_t, f_t = features(x, *side, s, n_cand)
    print("test, stage 1:", ranking_metrics(top_k(s[0], 10, exclude=x), test, 10))
    order = np.argsort(-final.predict(f_t).reshape(-1, n_cand), axis=1)[:, :10]
    print("test, re-ranked:", ranking_metrics(np.take_along_axis(i_t.reshape(-1, n_cand), order, axis=1), test, 10))


if __name__ == "__main__":
    main()

"""Experiments (not adopted): EASE variants against the temporal EASE the hybrid uses, ML-100K.

Usage: ``.venv/bin/python benchmarks/experiments/ease_variants.py [--filter-by user|item] [--variant ...]``

- ``channels``: ratings ≥ 4 and < 4 as separate input columns (2n × n weights; both copies of a film
  are barred from predicting it: a grouped zero-diagonal constraint, solved in closed form);
- ``decay``: temporal windows whose pair weight decays with the distance in positions;
- ``window-scale``: the validated window scaled, for the final fit only, by how much denser the full
  training histories are than the validation fit part's.

Every variant chooses its settings on the validation carve (per user, seed 7); the test split is scored
once. Figures: ``docs/quality-experiments.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protocol import arguments, load_split

from recommendations.ml.collab import (
    binarize,
    carve_validation,
    default_grid,
    fit_ease,
    mask_stamps,
    select_ease_params,
    temporal_cooccurrence,
)
from recommendations.ml.metrics import per_user_ndcg, ranking_metrics, top_k, top_k_fast

Setting = tuple[float, float, int, float, float]  # λ, c, window, α, decay


def channel_of(x: sp.csr_matrix, ratings: sp.csr_matrix, split: bool) -> sp.csr_matrix:
    """Per stored cell of ``x``: 0, or 1 for ratings below 4 when ``split``."""
    r = sp.csr_matrix(ratings.multiply(binarize(x)))
    r.data = ((r.data < 4) & split).astype(np.float64)
    return r


def pairs(stamps: sp.csr_matrix, chan: sp.csr_matrix, window: int, decay: float) -> tuple[np.ndarray, ...]:
    """(item a, channel a, item b, channel b, weight) for films within ``window`` positions, both ways."""
    coo = stamps.tocoo()
    order = np.lexsort((coo.col, coo.data, coo.row))
    u, i = coo.row[order], coo.col[order]
    ch = np.asarray(chan[u, i]).ravel().astype(np.int64)
    out: list[list[np.ndarray]] = [[], [], [], [], []]
    for d in range(1, window + 1):
        same = u[d:] == u[:-d]
        a, b, ca, cb = i[:-d][same], i[d:][same], ch[:-d][same], ch[d:][same]
        w = np.full(a.size, decay ** (d - 1))
        for k, v in enumerate((np.r_[a, b], np.r_[ca, cb], np.r_[b, a], np.r_[cb, ca], np.r_[w, w])):
            out[k].append(v)
    return tuple(np.concatenate(v) for v in out)


def fit(x: sp.csr_matrix, stamps: sp.csr_matrix, chan: sp.csr_matrix, k: int, s: Setting) -> np.ndarray:
    """EASE from ``k`` input channels to the binary target, with the temporal term on both Grams."""
    lam, c, window, alpha, decay = s
    n = x.shape[1]
    xb = binarize(x)
    z = sp.hstack([sp.csr_matrix(xb.multiply(chan == j) if j else xb - xb.multiply(chan != 0)) for j in range(k)]).tocsr()
    zz = (z.T @ z).toarray().astype(np.float64)
    zx = (z.T @ xb).toarray().astype(np.float64)
    if alpha > 0:
        a, ca, b, cb, w = pairs(mask_stamps(stamps, x), chan, window, decay)
        np.add.at(zz, (ca * n + a, cb * n + b), alpha * w)
        np.add.at(zx, (ca * n + a, b), alpha * w)
    zz[np.diag_indices_from(zz)] += lam + c * np.diag(zz)
    p = np.linalg.inv(zz)
    bw = p @ zx
    idx = np.arange(n)
    barred = np.stack([j * n + idx for j in range(k)], axis=1)  # n x k rows barred from column i
    mu = np.linalg.solve(p[barred[:, :, None], barred[:, None, :]], bw[barred, idx[:, None]][:, :, None])[:, :, 0]
    bw -= np.einsum("mnk,nk->mn", p[:, barred], mu)
    bw[barred, idx[:, None]] = 0.0
    return np.asarray(z @ bw)


def val_ndcg(fit_x: sp.csr_matrix, val_x: sp.csr_matrix, scores: np.ndarray) -> float:
    users = np.flatnonzero((np.diff(val_x.indptr) > 0) & (np.diff(fit_x.indptr) > 0))
    s = scores[users].copy()
    xf = fit_x[users]
    s[np.repeat(np.arange(users.size), np.diff(xf.indptr)), xf.indices] = -np.inf
    return float(per_user_ndcg(top_k_fast(s, 10), binarize(val_x[users]), 10).mean())


def main() -> None:
    args = arguments(__doc__ or "", "variant", ("channels", "decay", "window-scale"))
    data, x, test, stamps = load_split(args)
    ratings = sp.csr_matrix((data.ratings, (data.users, data.items)), shape=x.shape)
    fit_x, val_x = carve_validation(x, seed=7)

    if args.variant == "window-scale":
        params, _ = select_ease_params(x, default_grid(x.shape[1]), fit_val=(fit_x, val_x), stamps=stamps)
        w, a = int(params["temporal_window"]), params["temporal_weight"]
        ratio = x.nnz / fit_x.nnz
        print(f"validated {params}; full / fit-part density {ratio:.3f}")
        for w_final in sorted({w, round(w * ratio)}):
            b = fit_ease(x, params["lam"], params["pop_reg"], None, 0.0, (temporal_cooccurrence(mask_stamps(stamps, x), w_final), a))
            print(f"window {w_final} in the final fit: test {ranking_metrics(top_k(np.asarray(x @ b), 10, exclude=x), test, 10)}")
        return

    k = 2 if args.variant == "channels" else 1
    temporal = [(3, 2.0, 1.0), (0, 0.0, 1.0)]
    if args.variant == "decay":
        temporal = [(3, 1.0, 1.0), (3, 2.0, 1.0), (3, 4.0, 1.0), (6, 2.0, 0.7), (10, 2.0, 0.8), (10, 1.0, 1.0)]
    grid: list[Setting] = [(lam, c, *t) for lam in (200.0, 400.0, 800.0) for c in (0.0, 1.0, 2.0, 4.0, 8.0) for t in temporal]
    chan_fit, chan_full = channel_of(fit_x, ratings, k == 2), channel_of(x, ratings, k == 2)
    curve = sorted(((val_ndcg(fit_x, val_x, fit(fit_x, stamps, chan_fit, k, s)), s) for s in grid), reverse=True)
    for v, s in curve[:3]:
        print(f"validation {v:.4f}  λ {s[0]:g}, c {s[1]:g}, window {s[2]}, α {s[3]:g}, decay {s[4]:g}")
    best = curve[0][1]
    print("test:", ranking_metrics(top_k(fit(x, stamps, chan_full, k, best), 10, exclude=x), test, 10))


if __name__ == "__main__":
    main()

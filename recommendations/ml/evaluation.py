"""Offline evaluation protocol on MovieLens 100K, as pure functions (no Django, no pandas).

Protocol (Microsoft Recommenders' MovieLens benchmark): ``python_stratified_split`` with
ratio 0.75 and seed 42 on ``u.data``; k = 10; seen (train) items removed; every test rating
is relevant; binary nDCG, P@k, R@k, Spark-style MAP.

Note on ``filter_by``: the published figures in docs/quality-baselines.md (74,992 train /
25,008 test; EASE λ=300 → 0.4801) are reproduced *exactly* with ``filter_by="user"``;
``filter_by="item"`` gives 75,066 / 24,934 (EASE λ=300 → 0.4842). We default to ``"user"``
so numbers are comparable with the published table, and the benchmark reports both.

Cold-start simulation: ml-100k users all have ≥ 20 ratings, so the ≤5 and 6–20 activity
buckets are (almost) empty. ``simulate_cold_users`` truncates the *training* history of a
random subset of users (their test items are kept), which makes those buckets measurable.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .collab import fit_collab
from .hybrid import HybridModel, activity_bucket, popularity_scores, taste_scores
from .metrics import RankingMetrics, python_stratified_split, ranking_metrics, top_k

__all__ = [
    "BUCKETS",
    "DATA_DIR",
    "EvalResult",
    "Ml100k",
    "evaluate_models",
    "film_docs_ml100k",
    "load_ml100k",
    "make_split",
    "simulate_cold_users",
]

DATA_DIR = Path("/work/shared/data")
BUCKETS: tuple[str, ...] = ("<=5", "6-20", ">20")
ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


@dataclass
class Ml100k:
    """Ratings in file order (0-based ids) plus item metadata."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    titles: list[str]
    genres: np.ndarray  # (n_items, 19) 0/1
    n_users: int
    n_items: int


def load_ml100k(data_dir: Path | str = DATA_DIR) -> Ml100k:
    base = Path(data_dir) / "ml-100k"
    raw = np.loadtxt(base / "u.data", dtype=np.int64)
    titles: list[str] = []
    genre_rows: list[list[int]] = []
    with open(base / "u.item", encoding="latin-1") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("|")
            titles.append(parts[1])
            genre_rows.append([int(g) for g in parts[5:24]])
    return Ml100k(
        users=raw[:, 0] - 1,
        items=raw[:, 1] - 1,
        ratings=raw[:, 2].astype(np.float32),
        timestamps=raw[:, 3],
        titles=titles,
        genres=np.asarray(genre_rows, dtype=np.float32),
        n_users=int(raw[:, 0].max()),
        n_items=len(titles),
    )


_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _title_key(title: str) -> tuple[str, str]:
    """Normalised (title, year): lower-case alphanumerics; alternate '(a.k.a. ...)' dropped."""
    m = _YEAR.search(title)
    year = m.group(1) if m else ""
    name = _YEAR.sub("", title).strip()
    name = re.sub(r"\s*\((?:a\.k\.a\.|aka)?[^)]*\)\s*$", "", name) if "(" in name else name
    name = re.sub(r"^(.*), (The|A|An|Les|La|Le|Il|El|Das|Die|Der)$", r"\2 \1", name)
    return re.sub(r"[^a-z0-9]+", "", name.lower()), year


def film_docs_ml100k(data: Ml100k, data_dir: Path | str = DATA_DIR) -> tuple[list[dict[str, object]], float]:
    """Per-item text fields for ml-100k, joined to TMDB overviews by normalised title+year.

    Returns the docs (keys of ``recommendations.ml.text.FilmDoc``) and the overview coverage.
    """
    ov_dir = Path(data_dir) / "overviews"
    by_key: dict[tuple[str, str], dict[str, str]] = {}
    with open(ov_dir / "movies_enriched.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by_key.setdefault(_title_key(row["title"]), row)
    credits: dict[str, dict[str, str]] = {}
    credits_path = ov_dir / "directors_actors.csv"
    if credits_path.exists():
        with open(credits_path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                credits[row["movieId"]] = row
    docs: list[dict[str, object]] = []
    covered = 0
    for title, grow in zip(data.titles, data.genres, strict=True):
        key = _title_key(title)
        row = by_key.get(key)
        genres = [ML100K_GENRES[j] for j in np.flatnonzero(grow) if ML100K_GENRES[j] != "unknown"]
        doc: dict[str, object] = {
            "title": _YEAR.sub("", title).strip(),
            "year": int(key[1]) if key[1] else None,
            "genres": genres,
            "directors": [],
            "cast": [],
            "overview": "",
        }
        if row is not None:
            if row.get("overview"):
                covered += 1
                doc["overview"] = row["overview"]
            cred = credits.get(row["movieId"])
            if cred:
                doc["directors"] = [d for d in cred.get("directors", "").split("|") if d]
                doc["cast"] = [a for a in cred.get("actors", "").split("|") if a]
        docs.append(doc)
    return docs, covered / max(len(docs), 1)


def make_split(
    data: Ml100k, filter_by: str = "user", seed: int = 42, ratio: float = 0.75
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Binary train/test CSRs and the train mask over ``u.data`` rows."""
    mask = python_stratified_split(data.users, data.items, ratio=ratio, filter_by=filter_by, seed=seed)
    shape = (data.n_users, data.n_items)
    ones = np.ones(data.users.shape[0], dtype=np.float32)
    train = sp.csr_matrix((ones[mask], (data.users[mask], data.items[mask])), shape=shape)
    test = sp.csr_matrix((ones[~mask], (data.users[~mask], data.items[~mask])), shape=shape)
    return train, test, mask


def simulate_cold_users(
    train: sp.csr_matrix,
    fraction: float = 0.3,
    seed: int = 0,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Truncate the train history of a random ``fraction`` of users.

    Half of the chosen users keep 1–5 random training items, half keep 6–20. Returns the new
    train CSR and the chosen user ids. Their test items are untouched, so the buckets can be
    scored; the models never see the dropped interactions.
    """
    rng = np.random.default_rng(seed)
    n = train.shape[0]
    chosen = np.sort(rng.choice(n, size=round(fraction * n), replace=False))
    half = chosen.size // 2
    keep_n = np.empty(chosen.size, dtype=np.int64)
    keep_n[:half] = rng.integers(1, 6, size=half)
    keep_n[half:] = rng.integers(6, 21, size=chosen.size - half)
    lil = train.tolil(copy=True)
    for u, kn in zip(chosen, keep_n, strict=True):
        cols = np.asarray(lil.rows[u])
        if cols.size > kn:
            keep = set(rng.choice(cols, size=kn, replace=False).tolist())
            lil.rows[u] = [c for c in lil.rows[u] if c in keep]
            lil.data[u] = [1.0] * len(lil.rows[u])
    out = lil.tocsr()
    out.eliminate_zeros()
    return out, chosen


@dataclass
class EvalResult:
    overall: dict[str, RankingMetrics]
    buckets: dict[str, dict[str, RankingMetrics]]
    seconds: dict[str, float] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)


Scorer = Callable[[sp.csr_matrix], np.ndarray]


def evaluate_scores(
    scores: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix, k: int = 10
) -> tuple[RankingMetrics, dict[str, RankingMetrics]]:
    ranked = top_k(scores, k, exclude=train)
    n_train = np.diff(train.indptr)
    per_bucket = {b: ranking_metrics(ranked, test, k, user_mask=activity_bucket(n_train) == i) for i, b in enumerate(BUCKETS)}
    return ranking_metrics(ranked, test, k), per_bucket


def evaluate_models(
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    item_vectors: np.ndarray | None,
    *,
    k: int = 10,
    models: Sequence[str] = ("popularity", "ease", "content", "hybrid"),
    ease_lam: float | None = None,
    seed: int = 42,
) -> EvalResult:
    """Fit each model on ``train`` only and score it on ``test``.

    λ (EASE) and the hybrid's blend weights are chosen on validation splits carved from
    ``train``; ``test`` is touched only to compute the final metrics.
    """
    n_items = train.shape[1]
    overall: dict[str, RankingMetrics] = {}
    buckets: dict[str, dict[str, RankingMetrics]] = {}
    seconds: dict[str, float] = {}
    info: dict[str, object] = {}

    def record(name: str, scores: np.ndarray, started: float) -> None:
        seconds[name] = time.perf_counter() - started
        overall[name], buckets[name] = evaluate_scores(scores, train, test, k)

    if "popularity" in models:
        t0 = time.perf_counter()
        record("popularity", np.tile(popularity_scores(train), (train.shape[0], 1)), t0)
    if "ease300" in models:
        t0 = time.perf_counter()
        record("ease300", fit_collab(train, n_items, lam=300.0, pop_reg=0.0).scores(train), t0)
    if "ease" in models:
        t0 = time.perf_counter()
        collab = fit_collab(train, n_items, lam=ease_lam, seed=seed)
        info["ease_params"] = {key: round(v, 4) for key, v in collab.params.items()}
        record("ease", collab.scores(train), t0)
    if "content" in models and item_vectors is not None:
        t0 = time.perf_counter()
        record("content", taste_scores(train, item_vectors), t0)
    if "hybrid" in models:
        t0 = time.perf_counter()
        hybrid = HybridModel(seed=seed).fit(train, item_vectors)
        info["hybrid"] = hybrid.describe()
        record("hybrid", hybrid.score(train), t0)
    return EvalResult(overall, buckets, seconds, info)

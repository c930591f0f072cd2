"""Serving: recommendations, similar films and their explanations.

Runs on the process's loaded Bundle (no model, no TF: film vectors are
precomputed), so a request costs a few numpy ops over the film matrix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from django.core.cache import cache
from django.utils import timezone

from catalog.models import Movie, NotInterested, Rating
from recommendations import store
from recommendations.feedback import user_cache_key
from recommendations.ids import as_key, id_array, is_id, no_id, positions
from recommendations.ml.taste import rating_weights, user_vector

CACHE_SECONDS = 600
CANDIDATES = 300  # per-user cached shortlist, filtered per request
FILTERED_CANDIDATES = 100  # per filter, when the shortlist holds too few films passing it (100 = the API's largest k)
MAX_FILTERS_CACHED = 32  # filters kept per user shortlist and per bundle
FILM_CACHE_SECONDS = 600.0  # film cards (title, year, genres) reused across requests, as long as a shortlist
FILM_CACHE_MAX = 20_000


@dataclass
class Rec:
    movie_id: int
    score: float
    why: str
    version_id: int | None
    because: list[int] = field(default_factory=list)  # movie ids that contributed most
    movie: Movie | None = None


@dataclass
class UserProfile:
    movie_ids: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray
    hidden_ids: np.ndarray


def user_profile(user) -> UserProfile:
    rows = list(Rating.objects.filter(user=user).values_list("movie_id", "value", "updated_at"))
    hidden = list(NotInterested.objects.filter(user=user).values_list("movie_id", flat=True))
    return UserProfile(
        id_array(r[0] for r in rows),
        np.array([r[1] for r in rows], dtype=np.float32),
        np.array([r[2].timestamp() for r in rows], dtype=np.float64),
        id_array(hidden),
    )


def _rows(bundle: store.Bundle, movie_ids) -> np.ndarray:
    rows = positions(bundle.row_of, movie_ids)
    return rows[rows >= 0]


def _mask(bundle: store.Bundle, movie_ids) -> np.ndarray:
    return positions(bundle.row_of, movie_ids) >= 0


def taste(
    bundle: store.Bundle, profile: UserProfile, *, vector: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(taste vector, rows of rated films, their weights) for explanations; with
    ``vector=False`` the vector is zeros (not computed)."""
    lookup = positions(bundle.row_of, profile.movie_ids)
    known = lookup >= 0
    rated_rows = lookup[known]
    values = profile.values[known]
    now = timezone.now().timestamp()
    if vector:
        vec = user_vector(
            values,
            bundle.matrix[rated_rows],
            timestamps=profile.timestamps[known],
            now=now,
            not_interested=bundle.matrix[_rows(bundle, profile.hidden_ids)],
        )
    else:
        vec = np.zeros(bundle.matrix.shape[1], dtype=bundle.matrix.dtype)
    weights = rating_weights(values, timestamps=profile.timestamps[known], now=now)
    return vec, rated_rows, weights


def _liked(values: np.ndarray) -> np.ndarray:
    """Ratings at or above the scale's midpoint: the films the collaborative models take as likings."""
    return np.asarray(values) >= store.rating_midpoint()


def score_user(bundle: store.Bundle, profile: UserProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores over every film row for this user, with explanation inputs."""
    # With a hybrid that scores every film, the taste cosine is not part of the blend: skip it.
    needed = not (bundle.hybrid is not None and bundle.hybrid_complete)
    vec, rated_rows, weights = taste(bundle, profile, vector=needed)
    content = bundle.matrix @ vec if needed and np.any(vec) else np.zeros(len(bundle.movie_ids), np.float32)
    from recommendations.hybrid_serving import blend

    # The collaborative models count every rated film as a liking (they learn from who rated
    # what): a comedy rated 1★ would bring more comedies. Only films rated at or above the
    # scale's midpoint feed them; the taste vector still counts the others against.
    liked = rated_rows[_liked(profile.values[_mask(bundle, profile.movie_ids)])]
    liked_profile = replace(profile, movie_ids=bundle.movie_ids[liked])
    scores = blend(bundle, liked_profile, liked, content)
    return scores, rated_rows, weights


def _explain_pairs(bundle: store.Bundle, rows: np.ndarray, rated_rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """For each candidate row, the indices into ``rated_rows`` of the (at most) two rated films
    with the largest positive weight * cosine, best first, ties to the lower index; -1 pads.

    The same answer as ``taste.explain(..., top=2)`` per candidate, in one matrix product.
    """
    pairs = np.full((len(rows), 2), -1, dtype=np.int64)
    if len(rated_rows) == 0 or len(rows) == 0:
        return pairs
    rated = bundle.matrix[rated_rows].astype(np.float64)
    cands = bundle.matrix[np.asarray(rows, dtype=np.int64)].astype(np.float64)
    norms = np.linalg.norm(rated, axis=1)[:, None] * np.linalg.norm(cands, axis=1)[None, :]
    share = np.divide(rated @ cands.T, norms, out=np.zeros(norms.shape), where=norms > 1e-12)
    share *= np.asarray(weights, dtype=np.float64)[:, None]  # (rated, candidates)
    cols = np.arange(len(rows))
    for slot in range(min(2, len(rated_rows))):
        best = np.argmax(share, axis=0)  # argmax keeps the lowest index among ties
        ok = share[best, cols] > 0
        pairs[ok, slot] = best[ok]
        share[best, cols] = -np.inf
        if slot == 0:
            share[:, ~ok] = -np.inf  # nothing positive: no second either
    return pairs


def _popularity_led(bundle: store.Bundle, liked_ids: np.ndarray, candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Candidates whose hybrid score owes more to the popularity term than to the user's films
    (the learnt blend leans on popularity for users with few ratings): their explanation says
    so instead of citing a rated film that did little."""
    from recommendations.hybrid_store import popularity_parts

    parts = popularity_parts(bundle.hybrid, liked_ids.tolist(), candidates.tolist())  # type: ignore[arg-type]
    return (parts > 0) & (2 * parts > np.asarray(scores, dtype=np.float64))


def _hybrid_because(
    bundle: store.Bundle,
    profile: UserProfile,
    candidates: np.ndarray,
    rated_ids: np.ndarray,
    weights: np.ndarray,
    content_because: np.ndarray,
) -> np.ndarray:
    """Cited films when the hybrid scored the candidates: the liked film whose collaborative
    weight pushes each candidate most (``hybrid_because``) goes first where the user's blend
    leans on the collaborative part, else it only fills candidates content cannot explain.

    Only liked films (positive taste weight) are cited, as for content: a film the user
    disliked still counts as an interaction for EASE, but "because you rated it 1★" reads wrong.
    """
    from recommendations.hybrid_store import hybrid_because, user_weights

    liked = rated_ids[np.asarray(weights) > 0].tolist()
    collab = hybrid_because(bundle.hybrid, liked, candidates.tolist())
    blend = user_weights(bundle.hybrid, profile.movie_ids.tolist())
    lead = blend["collab"] > 0 and blend["collab"] >= blend["content"]
    out = content_because.copy()
    for i, film in enumerate(collab):
        if film is None or not (lead or not is_id(out[i, 0])):
            continue
        other = [m for m in content_because[i].tolist() if is_id(m) and m != film]
        out[i] = [film, other[0] if other else no_id(out)]
    return out


@dataclass(frozen=True)
class Shortlist:
    """A user's cached candidates, best first, compact (~4x smaller than tuples of strings).

    ``because`` holds up to two cited movie ids per candidate (-1 pads) and ``notes`` the
    "Title 4.5★" of each cited film, so a request builds only the k explanations it returns.
    """

    version_id: int
    movie_ids: np.ndarray  # int64 (SQL) or ObjectIds (MongoDB): recommendations.ids
    scores: np.ndarray  # float32
    because: np.ndarray  # (n, 2) movie ids, padded with ids.no_id()
    notes: dict[int, str]
    rated: bool  # False: no usable ratings, every film is "popular"
    size: int = CANDIDATES  # how many candidates were asked for (fewer when fewer films are left)
    popular: np.ndarray | None = None  # per candidate: popularity gave more of its score than the user's films
    # (genre, decade) -> the best films passing that filter, when this shortlist holds too few of
    # them; cached with it, so a new rating (which deletes the user's key) clears them too.
    filtered: dict[tuple[str, int | None], Shortlist] = field(default_factory=dict, compare=False, repr=False)

    def rec(self, i: int, movie: Movie | None = None) -> Rec:
        popular = self.popular is not None and bool(self.popular[i])
        ids = [] if popular else [m for m in self.because[i].tolist() if is_id(m)]
        if not self.rated or popular:
            why = "Popular with people on this site"
        elif not ids:
            why = "Popular with people whose taste is like yours"
        else:
            why = "Because you rated " + " and ".join(self.notes[m] for m in ids)
        return Rec(as_key(self.movie_ids[i]), float(self.scores[i]), why, self.version_id, ids, movie)


def _titles(movie_ids: list[int]) -> dict[int, str]:
    """Display titles; the year is added where two rated films share a title."""
    rows = list(Movie.objects.filter(pk__in=movie_ids).values_list("pk", "title", "year"))
    counts: dict[str, int] = {}
    for _pk, title, _year in rows:
        counts[title] = counts.get(title, 0) + 1
    return {pk: f"{title} ({year})" if counts[title] > 1 and year else title for pk, title, year in rows}


def recommend_for_user(user, k: int = 20, *, genre: str = "", decade: int | None = None) -> list[Rec]:
    bundle = store.active_bundle()
    if bundle is None:
        return _popular_fallback(user, k, genre, decade)
    # One key per user, so a rating deletes it; the version inside it means a
    # promotion never serves scores from the previous model.
    key = user_cache_key(user.pk)
    shortlist = cache.get(key)
    if not isinstance(shortlist, Shortlist) or shortlist.version_id != bundle.version_id:
        shortlist = _compute_shortlist(bundle, user)
        cache.set(key, shortlist, CACHE_SECONDS)
    picked = _pick(shortlist, k, genre, decade, bundle)
    if len(picked) < k and (genre or decade is not None) and len(shortlist.movie_ids) >= CANDIDATES:
        # The shortlist holds too few films of this genre or decade: rank the user's scores
        # again over the films that pass the filter, once per filter while the shortlist lives.
        filtered = shortlist.filtered.get((genre, decade))
        if filtered is None or (len(filtered.movie_ids) < k and len(filtered.movie_ids) >= filtered.size):
            only = _rows(bundle, id_array(_allowed_ids(bundle, genre, decade)))
            filtered = _compute_shortlist(bundle, user, only=only, size=max(k, FILTERED_CANDIDATES))
            if len(shortlist.filtered) >= MAX_FILTERS_CACHED:
                shortlist.filtered.clear()
            shortlist.filtered[(genre, decade)] = filtered
            cache.set(key, shortlist, CACHE_SECONDS)
        picked = _pick(filtered, k, "", None, bundle)
    return picked


def _compute_shortlist(bundle: store.Bundle, user, *, only: np.ndarray | None = None, size: int | None = None) -> Shortlist:
    """The user's ``size`` (default CANDIDATES) best candidates with their explanations; ``only``:
    rows to choose from."""
    size = size or CANDIDATES
    profile = user_profile(user)
    scores, rated_rows, weights = score_user(bundle, profile)
    exclude = np.concatenate([rated_rows, _rows(bundle, profile.hidden_ids)])
    if only is not None:
        outside = np.ones(len(scores), dtype=bool)
        outside[only] = False
        exclude = np.concatenate([exclude, np.flatnonzero(outside)])
    top, top_scores = _top(scores, exclude, size)
    known = _mask(bundle, profile.movie_ids)
    values = profile.values[known]
    pairs = _explain_pairs(bundle, top, rated_rows, weights)
    rated_ids = bundle.movie_ids[rated_rows]
    because = np.full(pairs.shape, no_id(rated_ids), dtype=rated_ids.dtype)
    because[pairs >= 0] = rated_ids[pairs[pairs >= 0]]
    popular = None
    if bundle.hybrid is not None:
        because = _hybrid_because(bundle, profile, bundle.movie_ids[top], rated_ids, weights, because)
        popular = _popularity_led(bundle, rated_ids[_liked(values)], bundle.movie_ids[top], top_scores)
    value_of = dict(zip(rated_ids.tolist(), values.tolist(), strict=True))
    cited = sorted({m for m in because.ravel().tolist() if is_id(m)})
    titles = _titles(rated_ids.tolist())  # all rated films: a shared title gets its year
    notes = {m: f"{titles.get(m, '?')} {value_of[m]:g}★" for m in cited}
    # Without a liked film the collaborative part had no input: the list leans on popularity.
    liked_any = bool(np.any(_liked(values)))
    return Shortlist(bundle.version_id, bundle.movie_ids[top], top_scores.astype(np.float32), because, notes, liked_any, size, popular)


def _pick(shortlist: Shortlist, k: int, genre: str, decade: int | None, bundle: store.Bundle) -> list[Rec]:
    """The first k candidates that pass the filters, with their films; Recs only for those."""
    ids = shortlist.movie_ids.tolist()
    order: list[int] = list(range(len(ids)))
    if genre or decade is not None:
        allowed = _allowed_ids(bundle, genre, decade)
        order = [i for i in order if ids[i] in allowed]
    kept: list[Rec] = []
    start = 0
    while len(kept) < k and start < len(order):  # a second round only if films left the catalogue
        batch = order[start : start + k - len(kept)]
        start += len(batch)
        movies = _films(bundle, [ids[i] for i in batch])
        kept += [shortlist.rec(i, movies[ids[i]]) for i in batch if ids[i] in movies]
    return kept


def _allowed_ids(bundle: store.Bundle, genre: str, decade: int | None) -> set:
    """Every film of the catalogue that passes the filters, cached on the bundle for
    FILM_CACHE_SECONDS (an admin edit of a film's genres or year shows within that time).
    Each filter reads one collection: the genre's links, or the films' years; no join."""
    now = time.monotonic()
    entry = bundle.filters.get((genre, decade))
    if entry is not None and now - entry[0] < FILM_CACHE_SECONDS:
        return entry[1]
    from catalog.models import Genre

    found: set | None = None
    if genre:
        genre_pk = Genre.objects.filter(slug=genre).values_list("pk", flat=True).first()
        links = Movie.genres.through.objects.filter(genre_id=genre_pk).order_by()
        found = set(links.values_list("movie_id", flat=True)) if genre_pk is not None else set()
    if decade is not None:
        years = Movie.objects.filter(year__gte=decade, year__lte=decade + 9).order_by()
        in_decade = set(years.values_list("pk", flat=True))
        found = in_decade if found is None else found & in_decade
    if len(bundle.filters) >= MAX_FILTERS_CACHED:
        bundle.filters.clear()
    bundle.filters[(genre, decade)] = (now, found or set())
    return found or set()


def _top(scores: np.ndarray, exclude: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    from recommendations.ml.ranking import top_k

    return top_k(scores, k, exclude)


def _attach(recs: list[Rec], k: int, bundle: store.Bundle | None = None) -> list[Rec]:
    """The first k recs whose films are still in the catalogue, with their films; only those k
    films are loaded (from the bundle's film-card cache, see ``_films``)."""
    kept: list[Rec] = []
    start = 0
    while len(kept) < k and start < len(recs):  # a second round only if films left the catalogue
        batch = recs[start : start + k - len(kept)]
        start += len(batch)
        movies = _films(bundle, [r.movie_id for r in batch])
        for rec in batch:
            if rec.movie_id in movies:
                rec.movie = movies[rec.movie_id]
                kept.append(rec)
    return kept


def _films(bundle: store.Bundle | None, ids: list[int]) -> dict[int, Movie]:
    """Films with genres prefetched, cached on the serving bundle for FILM_CACHE_SECONDS.

    The ORM costs ~5 ms for 20 films with their genres, several times the framework's own cost
    of a request, so a warm request reads none. A new bundle (promotion) starts empty; an admin
    edit of a film shows within FILM_CACHE_SECONDS. The instances are shared and read-only.
    """
    if bundle is None:
        return Movie.objects.with_genres().in_bulk(ids)
    now = time.monotonic()
    cache_ = bundle.films
    found: dict[int, Movie] = {}
    missing = []
    for pk in ids:
        entry = cache_.get(pk)
        if entry is not None and now - entry[0] < FILM_CACHE_SECONDS:
            found[pk] = entry[1]
        else:
            missing.append(pk)
    if missing:
        if len(cache_) > FILM_CACHE_MAX:
            cache_.clear()
        for pk, movie in Movie.objects.with_genres().in_bulk(missing).items():
            cache_[pk] = (now, movie)
            found[pk] = movie
    return found


def _popular_fallback(user, k: int, genre: str, decade: int | None) -> list[Rec]:
    seen = set(Rating.objects.filter(user=user).values_list("movie_id", flat=True)) if user.is_authenticated else set()
    seen |= set(NotInterested.objects.filter(user=user).values_list("movie_id", flat=True)) if user.is_authenticated else set()
    qs = Movie.objects.exclude(pk__in=list(seen)).with_genres().order_by("-rating_count", "title")
    if genre:
        qs = qs.filter(genres__slug=genre)
    if decade is not None:
        qs = qs.filter(year__gte=decade, year__lte=decade + 9)
    return [Rec(m.pk, float(m.rating_count), "Popular on this site", None, [], m) for m in qs[:k]]


def with_collaborative(bundle: store.Bundle, movie_ids: list, content: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Scores for someone who liked ``movie_ids`` that also use who liked what: the hybrid's
    collaborative rows for the films (what it predicts for someone who liked them) blended with
    the text cosine, each z-scored, with the hybrid's learnt weights for its fewest-ratings bucket.
    Text alone put Toys and Toy Soldiers next to Toy Story, and a prison comedy next to The
    Shawshank Redemption. The result keeps ``content``'s mean and spread, so that boosts made on
    the cosine scale keep their size; rows in ``exclude`` (the films themselves) come out -inf and
    are left out of both spreads. Without a hybrid, or a link, ``content`` is returned."""
    from recommendations.ml.hybrid import zscore

    loaded = bundle.hybrid
    if loaded is None:
        return content
    cols = [c for c in (loaded.col_of.get(m) for m in movie_ids) if c is not None]  # type: ignore[attr-defined]
    weights = loaded.model.weights[0]  # type: ignore[attr-defined]
    if not cols or weights[0] <= 0:
        return content
    b = loaded.model.collab.weights  # type: ignore[attr-defined]
    picked = b[cols].toarray() if hasattr(b, "toarray") else b[cols]
    collab_row = np.asarray(picked, dtype=np.float32).mean(axis=0)
    if not np.any(collab_row):  # nobody's ratings link them to other films
        return content
    collab = np.zeros(len(bundle.movie_ids), dtype=np.float32)
    valid = bundle.hybrid_rows >= 0  # type: ignore[attr-defined]
    collab[bundle.hybrid_rows[valid]] = collab_row[valid]  # type: ignore[index]
    others = np.ones(len(content), dtype=bool)
    others[exclude] = False
    kept = content[others]
    blend = (weights[1] * zscore(kept) + weights[0] * zscore(collab[others])) / (weights[0] + weights[1])
    out = np.full(len(content), -np.inf, dtype=np.float32)
    out[others] = float(kept.mean()) + (float(kept.std()) or 1.0) * blend
    return out


def similar_movies(movie: Movie, k: int = 12) -> list[Rec]:
    bundle = store.active_bundle()
    if bundle is None or movie.pk not in bundle.row_of:
        return []
    row = bundle.row_of[movie.pk]
    scores = bundle.matrix @ bundle.matrix[row]
    if bundle.hybrid is not None:
        scores = with_collaborative(bundle, [movie.pk], scores, np.array([row]))
    top, top_scores = _top(scores, np.array([row]), k)
    recs = [Rec(as_key(bundle.movie_ids[r]), float(s), f"Similar to {movie.title}", bundle.version_id, [movie.pk]) for r, s in zip(top, top_scores, strict=True)]
    return _attach(recs, k, bundle)

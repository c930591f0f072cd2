"""Site pages driven by the recommender: home, onboarding, search, my lists, posters."""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from catalog import selectors as catalog_selectors
from catalog.models import Genre, Movie, NotInterested, Rating, WatchlistItem, attach_genres
from catalog.views import card_context
from recommendations import selectors
from recommendations.ask import AskResult, ask
from recommendations.engine import Rec
from recommendations.onboarding import MIN_RATINGS, onboarding_films

GENRE_COLOURS = {
    "Action": "#b3261e", "Adventure": "#b4530f", "Animation": "#16697a", "Children": "#2e7d32", "Comedy": "#8a5a00",
    "Crime": "#37474f", "Documentary": "#5d4037", "Drama": "#4a148c", "Fantasy": "#6a1b9a", "Film-Noir": "#212121",
    "Horror": "#7f0000", "Musical": "#ad1457", "Mystery": "#283593", "Romance": "#a3134a", "Sci-Fi": "#0d47a1",
    "Thriller": "#424242", "War": "#4e342e", "Western": "#795548", "IMAX": "#263238",
}

# The engine writes its reasons in English; these are the fixed ones, shown in the user's language.
FIXED_WHY = {
    "Popular on this site": gettext_lazy("Popular on this site"),
    "Popular with people on this site": gettext_lazy("Popular with people on this site"),
    "Popular with people whose taste is like yours": gettext_lazy("Popular with people whose taste is like yours"),
}


def localise_why(recs: list[Rec], user: Any) -> list[Rec]:
    """Rewrite each Rec.why in the active language, from the films that explain it."""
    because_ids = {mid for rec in recs for mid in rec.because}
    titles: dict[int, str] = {}
    values: dict[int, float] = {}
    if because_ids:
        titles = dict(Movie.objects.filter(pk__in=because_ids).values_list("pk", "title"))
        if user.is_authenticated:
            values = dict(Rating.objects.filter(user=user, movie_id__in=because_ids).values_list("movie_id", "value"))
    for rec in recs:
        if rec.why.startswith("Because you rated") and rec.because:
            parts = [
                _("%(title)s (%(value)s★)") % {"title": titles.get(mid, "?"), "value": f"{values[mid]:g}"} if mid in values else titles.get(mid, "?")
                for mid in rec.because
            ]
            rec.why = _("Because you rated %(films)s") % {"films": _(" and ").join(parts)}
        elif rec.why.startswith("Similar to") and rec.because:
            rec.why = _("Similar to %(title)s") % {"title": titles.get(rec.because[0], "?")}
        elif rec.why in FIXED_WHY:
            rec.why = str(FIXED_WHY[rec.why])
    return recs


def _visible(movies: Iterable[Movie], hidden: set[int]) -> list[Movie]:
    return [m for m in movies if m.pk not in hidden]


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        trending = selectors.trending(k=12)
        trending_ids = {m.pk for m in trending}
        popular = [m for m in catalog_selectors.popular_movies(limit=24) if m.pk not in trending_ids][:12]
        context = {"trending": trending, "popular": popular, **card_context(request, trending + popular)}
        return render(request, "recommendations/home_anon.html", context)
    if not user.onboarded and not user.ratings.exists():
        return redirect("onboarding")
    _watch, hidden = catalog_selectors.user_list_ids(user)
    recs = localise_why(selectors.recommend_for_user(user, k=12), user)
    # Each film once on the page, in its first row: a copy further down would not follow a
    # rating or a "not interested" made on the other.
    shown = set(hidden) | {r.movie_id for r in recs}
    because = []
    for fav, rs in selectors.because_you_liked(user, rows=3, k=16):
        fresh = [r for r in rs if r.movie_id not in shown][:8]
        shown |= {r.movie_id for r in fresh}
        if fresh:
            because.append((fav, fresh))
    trending = _visible(selectors.trending(k=24), shown)[:12]
    shown |= {m.pk for m in trending}
    new = _visible(selectors.new_in_catalogue(k=24), shown)[:12]
    shown |= {m.pk for m in new}
    cont = _visible(selectors.continue_rating(user, k=12 + len(shown)), shown)[:12]
    movies = [r.movie for r in recs] + [r.movie for _m, rs in because for r in rs] + trending + new + cont
    context = {
        "recs": recs,
        "because": because,
        "trending": trending,
        "new": new,
        "continue": cont,
        "rated": user.ratings.count(),
        **card_context(request, movies),
    }
    return render(request, "recommendations/home.html", context)


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        slugs = request.POST.getlist("genres")
        user.favourite_genres.set(Genre.objects.filter(slug__in=slugs))
        return redirect(f"{reverse('onboarding')}?step=rate")
    q = request.GET.get("q", "").strip()[:200]
    step = "rate" if request.GET.get("step") == "rate" or q else "genres"
    films = onboarding_films(user, q=q) if step == "rate" else []
    rated = user.ratings.count()
    context = {
        "step": step,
        "genres": catalog_selectors.genre_list(),
        "chosen": set(user.favourite_genres.values_list("slug", flat=True)),
        "films": films,
        "q": q,
        "rated": rated,
        "min_ratings": MIN_RATINGS,
        "ready": rated >= MIN_RATINGS,
        **card_context(request, films),
    }
    return render(request, "recommendations/onboarding.html", context)


@login_required
@require_POST
def onboarding_done(request: HttpRequest) -> HttpResponse:
    if request.POST.get("skip"):
        # Never a dead end: the home page then asks for ratings and starts from the first one.
        request.user.onboarded = True
        request.user.save(update_fields=["onboarded"])
        messages.info(request, _("Rate films whenever you like: recommendations start with your first rating."))
        return redirect("home")
    if request.user.ratings.count() < MIN_RATINGS:
        messages.error(request, _("Please rate at least %(n)d films first.") % {"n": MIN_RATINGS})
        return redirect(f"{reverse('onboarding')}?step=rate")
    request.user.onboarded = True
    request.user.save(update_fields=["onboarded"])
    messages.success(request, _("Done! These picks are based on your ratings. Every new rating sharpens them."))
    return redirect("home")




def explain_answer(answer: AskResult) -> tuple[str, str]:
    """(what was understood from the request, a note) in the active language, as ``ask`` wrote them."""
    return answer.constraints.describe(), answer.note


def search(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:300]
    titles = list(catalog_selectors.movie_list(catalog_selectors.MovieFilters(q=q))[:12]) if q else []
    answer = None
    understood = note = ""
    items = []
    if q and (len(q.split()) >= 3 or not titles):
        answer = ask(request.user, q, k=12)
        understood, note = explain_answer(answer)
        attach_genres(i.movie for i in answer.items)
        items = list(answer.items)
    cards = card_context(request, titles + [i.movie for i in items])
    items = [i for i in items if i.movie.pk not in cards["hidden_ids"]]
    context = {
        "search_q": q,
        "titles": titles,
        "answer": answer,
        "items": items,
        "understood": understood,
        "note": note,
        **cards,
    }
    return render(request, "recommendations/search.html", context)


SORTS = {
    "recent": ["-updated_at", "-pk"],
    "rating": ["-value", "-updated_at"],
    "lowest": ["value", "-updated_at"],
    "title": ["movie__title_key", "movie__year"],
}


@login_required
def my_lists(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "recent")
    if sort not in SORTS:
        sort = "recent"
    ratings = Paginator(request.user.ratings.select_related("movie").order_by(*SORTS[sort]), 50).get_page(request.GET.get("page"))
    watchlist = list(WatchlistItem.objects.filter(user=request.user).select_related("movie").order_by("-pk"))
    hidden = list(NotInterested.objects.filter(user=request.user).select_related("movie").order_by("-pk"))
    context = {
        "page": ratings,
        "sort": sort,
        "sorts": [("recent", _("Most recent")), ("rating", _("Highest rated")), ("lowest", _("Lowest rated")), ("title", _("Title"))],
        "watchlist": watchlist,
        "hidden": hidden,
    }
    return render(request, "recommendations/my_lists.html", context)


def _csv_cell(text: str) -> str:
    """No spreadsheet formula injection: a leading formula character is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
def ratings_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-ratings.csv"'
    response.write("\ufeff")  # so spreadsheet programs read UTF-8 titles correctly
    writer = csv.writer(response)
    writer.writerow(["movie_id", "title", "year", "rating", "rated_at"])
    for r in request.user.ratings.select_related("movie").order_by("-updated_at", "-pk"):
        writer.writerow([r.movie_id, _csv_cell(r.movie.title), r.movie.year or "", f"{r.value:.1f}", r.updated_at.isoformat()])
    return response


# Characters XML 1.0 forbids (control characters other than tab, newline, carriage return).
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def poster_lines(title: str, width: int = 15, max_lines: int = 5) -> list[str]:
    """Wrap a title for the poster; long words and CJK titles are broken by width."""
    pieces: list[str] = []
    for word in title.split():
        while _display_width(word) > width:
            cut, size = 0, 0
            while cut < len(word) and size + _display_width(word[cut]) <= width:
                size += _display_width(word[cut])
                cut += 1
            pieces.append(word[:cut])
            word = word[cut:]
        if word:
            pieces.append(word)
    lines: list[str] = []
    line = ""
    for piece in pieces:
        candidate = f"{line} {piece}".strip()
        if line and _display_width(candidate) > width:
            lines.append(line)
            line = piece
        else:
            line = candidate
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][: width - 1] + "…"]
    return lines or [""]


def poster(request: HttpRequest, pk: int) -> HttpResponse:
    """A generated SVG poster: title, year and a colour from the first genre.

    Every piece of text is escaped for XML (attribute values quoted too), characters XML
    forbids are dropped, and a strict Content-Security-Policy means the file can never run
    a script even when opened on its own.
    """
    movie = get_object_or_404(Movie.objects.with_genres(), pk=pk)
    title = _XML_FORBIDDEN.sub("", movie.title)
    genre = next(iter(g.name for g in movie.genres.all()), "")
    colour = GENRE_COLOURS.get(genre) or "#" + hashlib.sha256(title.encode()).hexdigest()[:6]
    lines = poster_lines(title)
    size = 22 if len(lines) <= 3 else 18
    top = 130 - (len(lines) - 1) * size * 0.6
    tspans = "".join(f'<tspan x="100" dy="{0 if i == 0 else round(size * 1.2)}">{escape(t)}</tspan>' for i, t in enumerate(lines))
    year = str(movie.year) if movie.year else ""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300" viewBox="0 0 200 300" role="img" '
        f"aria-label={quoteattr(f'{title} {year}'.strip())}>"
        '<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{colour}"/><stop offset="1" stop-color="#111"/></linearGradient></defs>'
        '<rect width="200" height="300" fill="url(#g)"/>'
        '<rect x="10" y="10" width="180" height="280" rx="4" fill="none" stroke="#fff" stroke-opacity=".35"/>'
        '<path d="M100 36l5 10.5 11.5 1.2-8.6 7.7 2.4 11.3L100 61l-10.3 5.7 2.4-11.3-8.6-7.7 11.5-1.2z" fill="#fff" fill-opacity=".8"/>'
        f'<text x="100" y="{top:.0f}" fill="#fff" font-family="sans-serif" font-size="{size}" font-weight="bold" '
        f'text-anchor="middle">{tspans}</text>'
        f'<text x="100" y="268" fill="#fff" font-family="sans-serif" font-size="18" font-weight="bold" text-anchor="middle">{escape(year)}</text>'
        "</svg>"
    )
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response

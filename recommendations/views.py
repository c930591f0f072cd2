"""Site pages driven by the recommender: home, onboarding, search, my lists, posters."""

from __future__ import annotations

import csv
import hashlib
from xml.sax.saxutils import escape

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog import selectors as catalog_selectors
from catalog.models import Genre, Movie, NotInterested, WatchlistItem
from catalog.views import card_context
from recommendations import selectors
from recommendations.ask import ask
from recommendations.onboarding import MIN_RATINGS, onboarding_films

GENRE_COLOURS = {
    "Action": "#b3261e", "Adventure": "#c75b12", "Animation": "#1f7a8c", "Children": "#2e7d32", "Comedy": "#a87900",
    "Crime": "#37474f", "Documentary": "#5d4037", "Drama": "#4a148c", "Fantasy": "#6a1b9a", "Film-Noir": "#212121",
    "Horror": "#7f0000", "Musical": "#ad1457", "Mystery": "#283593", "Romance": "#c2185b", "Sci-Fi": "#0d47a1",
    "Thriller": "#424242", "War": "#4e342e", "Western": "#8d6e63",
}


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        trending = selectors.trending()
        return render(request, "recommendations/home_anon.html", {"trending": trending, **card_context(request, trending)})
    if not request.user.onboarded and not request.user.ratings.exists():
        return redirect("onboarding")
    recs = selectors.recommend_for_user(request.user, k=12)
    because = selectors.because_you_liked(request.user)
    trending = selectors.trending()
    new = selectors.new_in_catalogue()
    cont = selectors.continue_rating(request.user)
    movies = [r.movie for r in recs] + [r.movie for _m, rs in because for r in rs] + trending + new + cont
    context = {"recs": recs, "because": because, "trending": trending, "new": new, "continue": cont, **card_context(request, movies)}
    return render(request, "recommendations/home.html", context)


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        slugs = request.POST.getlist("genres")
        user.favourite_genres.set(Genre.objects.filter(slug__in=slugs))
        return redirect(f"{request.path}?step=rate")
    q = request.GET.get("q", "")[:200]
    films = onboarding_films(user, q=q)
    rated = user.ratings.count()
    context = {
        "step": request.GET.get("step", "genres"),
        "genres": catalog_selectors.genre_list(),
        "chosen": set(user.favourite_genres.values_list("slug", flat=True)),
        "films": films,
        "q": q,
        "rated": rated,
        "min_ratings": MIN_RATINGS,
        **card_context(request, films),
    }
    return render(request, "recommendations/onboarding.html", context)


@login_required
@require_POST
def onboarding_done(request: HttpRequest) -> HttpResponse:
    if request.user.ratings.count() < MIN_RATINGS:
        messages.error(request, _("Please rate at least %(n)d films first.") % {"n": MIN_RATINGS})
        return redirect("/onboarding/?step=rate")
    request.user.onboarded = True
    request.user.save(update_fields=["onboarded"])
    return redirect("home")


def search(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:300]
    titles = list(catalog_selectors.movie_list(catalog_selectors.MovieFilters(q=q))[:12]) if q else []
    answer = None
    if q and (len(q.split()) >= 3 or not titles):
        answer = ask(request.user, q, k=12)
    movies = titles + ([i.movie for i in answer.items] if answer else [])
    context = {"search_q": q, "titles": titles, "answer": answer, **card_context(request, movies)}
    return render(request, "recommendations/search.html", context)


@login_required
def my_lists(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "recent")
    order = {"recent": ["-updated_at"], "rating": ["-value", "-updated_at"], "title": ["movie__title_key"]}.get(sort, ["-updated_at"])
    ratings = Paginator(request.user.ratings.select_related("movie").order_by(*order), 50).get_page(request.GET.get("page"))
    watchlist = WatchlistItem.objects.filter(user=request.user).select_related("movie")
    hidden = NotInterested.objects.filter(user=request.user).select_related("movie")
    return render(request, "recommendations/my_lists.html", {"page": ratings, "sort": sort, "watchlist": watchlist, "hidden": hidden})


@login_required
def ratings_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-ratings.csv"'
    writer = csv.writer(response)
    writer.writerow(["movie_id", "title", "year", "rating", "rated_at"])
    for r in request.user.ratings.select_related("movie").order_by("-updated_at"):
        title = r.movie.title
        if title[:1] in "=+-@":  # no spreadsheet formula injection
            title = "'" + title
        writer.writerow([r.movie_id, title, r.movie.year or "", r.value, r.updated_at.isoformat()])
    return response


def poster(request: HttpRequest, pk: int) -> HttpResponse:
    """A generated SVG poster: title, year and a colour from the first genre."""
    movie = get_object_or_404(Movie.objects.prefetch_related("genres"), pk=pk)
    genre = next(iter(g.name for g in movie.genres.all()), "")
    colour = GENRE_COLOURS.get(genre) or "#" + hashlib.sha256(movie.title.encode()).hexdigest()[:6]
    words, lines, line = movie.title.split(), [], ""
    for word in words:
        if len(line) + len(word) > 16 and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    tspans = "".join(f'<tspan x="100" dy="{0 if i == 0 else 26}">{escape(t)}</tspan>' for i, t in enumerate(lines[:6]))
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300" viewBox="0 0 200 300" role="img" '
        f'aria-label="{escape(movie.title)}"><rect width="200" height="300" fill="{colour}"/>'
        '<rect x="10" y="10" width="180" height="280" fill="none" stroke="#fff" stroke-opacity=".4"/>'
        f'<text x="100" y="110" fill="#fff" font-family="sans-serif" font-size="20" font-weight="bold" text-anchor="middle">{tspans}</text>'
        f'<text x="100" y="270" fill="#fff" font-family="sans-serif" font-size="16" text-anchor="middle">{movie.year or ""}</text>'
        f'<text x="100" y="250" fill="#fff" fill-opacity=".8" font-family="sans-serif" font-size="12" text-anchor="middle">{escape(genre)}</text></svg>'
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response

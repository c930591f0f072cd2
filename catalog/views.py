"""Catalogue pages: browse, detail and the rating / list actions (htmx-aware)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog import selectors, services
from catalog.forms import BrowseForm, RatingForm
from catalog.models import Movie


def browse(request: HttpRequest) -> HttpResponse:
    form = BrowseForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.MovieFilters(
        q=data.get("q") or "", genre=data.get("genre") or "", decade=data.get("decade"), sort=data.get("sort") or "popular"
    )
    page = Paginator(selectors.movie_list(filters), 24).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "genres": selectors.genre_list(),
        "decades": selectors.decades_available(),
        **card_context(request, page.object_list),
    }
    return render(request, "catalog/browse.html", context)


def card_context(request: HttpRequest, movies) -> dict:
    """What cards need to show the user's state, in a fixed number of queries."""
    ids = [m.pk for m in movies]
    watch, hidden = selectors.user_list_ids(request.user)
    return {"my_ratings": selectors.user_rating_map(request.user, ids), "watchlist_ids": watch, "hidden_ids": hidden}


def movie_detail(request: HttpRequest, pk: int) -> HttpResponse:
    movie = get_object_or_404(selectors.movie_base_queryset(), pk=pk)
    from recommendations import selectors as rec_selectors

    similar = rec_selectors.similar_movies(movie, k=12)
    rating = selectors.user_rating_for(request.user, movie)
    context = {
        "movie": movie,
        "my_rating": rating,
        "form": RatingForm(initial={"value": str(rating.value) if rating else None}),
        "distribution": selectors.rating_distribution(movie),
        "similar": similar,
        **card_context(request, [movie, *[s.movie for s in similar]]),
    }
    return render(request, "catalog/detail.html", context)


@login_required
@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    movie = get_object_or_404(Movie, pk=pk)
    form = RatingForm(request.POST)
    if not form.is_valid():
        if request.headers.get("HX-Request"):
            return HttpResponse(form.errors["value"][0], status=400)
        for error in form.errors.get("value", []):
            messages.error(request, error)
        return redirect(movie)
    services.rating_upsert(user=request.user, movie=movie, value=form.cleaned_data["value"])
    if request.headers.get("HX-Request"):
        return render(request, "catalog/_stars.html", {"movie": movie, "value": form.cleaned_data["value"]})
    messages.success(request, _("Saved your rating of %(title)s.") % {"title": movie.title})
    return redirect(request.POST.get("next") or movie.get_absolute_url())


@login_required
@require_POST
def toggle_list(request: HttpRequest, pk: int, which: str) -> HttpResponse:
    movie = get_object_or_404(Movie, pk=pk)
    add = request.POST.get("action", "add") == "add"
    if which == "watchlist":
        (services.watchlist_add if add else services.watchlist_remove)(user=request.user, movie=movie)
    else:
        (services.not_interested_add if add else services.not_interested_remove)(user=request.user, movie=movie)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204 if which == "watchlist" else 200)
    return redirect(request.POST.get("next") or movie.get_absolute_url())

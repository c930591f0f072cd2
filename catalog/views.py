"""Catalogue pages: browse, detail and the rating / list actions (htmx-aware)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from catalog import selectors, services
from catalog.forms import BrowseForm, RatingForm
from catalog.models import Movie

LISTS = ("watchlist", "not-interested")


def browse(request: HttpRequest) -> HttpResponse:
    form = BrowseForm(request.GET or None)
    form.is_valid()  # cleaned_data keeps the valid fields: one stale filter must not drop the others
    data = getattr(form, "cleaned_data", {})
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


def card_context(request: HttpRequest, movies: Iterable[Movie]) -> dict[str, Any]:
    """What cards need to show the user's state, in a fixed number of queries."""
    ids = [m.pk for m in movies]
    watch, hidden = selectors.user_list_ids(request.user)
    return {"my_ratings": selectors.user_rating_map(request.user, ids), "watchlist_ids": watch, "hidden_ids": hidden}


def distribution_chart(distribution: list[tuple[float, int]], height: int = 60) -> list[dict[str, Any]]:
    """Bars for the small rating chart: one per half star, scaled to the tallest."""
    tallest = max((n for _step, n in distribution), default=0) or 1
    bars = []
    for i, (step, n) in enumerate(distribution):
        h = round(height * n / tallest) if n else 0
        bars.append({"step": step, "n": n, "x": i * 22 + 2, "h": max(h, 1), "y": height - max(h, 1)})
    return bars


def movie_detail(request: HttpRequest, pk: int) -> HttpResponse:
    movie = get_object_or_404(selectors.movie_base_queryset(), pk=pk)
    from recommendations import selectors as rec_selectors

    similar = rec_selectors.similar_movies(movie, k=12)
    rating = selectors.user_rating_for(request.user, movie)
    cards = card_context(request, [movie, *[s.movie for s in similar]])
    similar = [s for s in similar if s.movie_id not in cards["hidden_ids"]]
    distribution = selectors.rating_distribution(movie)
    context = {
        "movie": movie,
        "my_rating": rating,
        "distribution": distribution,
        "chart": distribution_chart(distribution),
        "similar": similar,
        **cards,
    }
    return render(request, "catalog/detail.html", context)


def _announce(response: HttpResponse, text: str, **events: Any) -> HttpResponse:
    """htmx events for the page: a message for screen readers (and the toast), plus any others.

    JSON with ASCII escapes keeps non-English text intact in the header.
    """
    response["HX-Trigger"] = json.dumps({"movierec:announce": text, **events}, ensure_ascii=True, default=str)  # ObjectId ids on MongoDB
    return response


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    movie = get_object_or_404(selectors.movies_for_write(), pk=pk)
    form = RatingForm(request.POST)
    htmx = bool(request.headers.get("HX-Request"))
    if not form.is_valid():
        error = form.errors["value"][0]
        if htmx:
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        messages.error(request, error)
        return redirect(movie)
    value = form.cleaned_data["value"]
    services.rating_upsert(user=request.user, movie=movie, value=value)
    # ngettext wants a count: exactly one star is singular in English, a half star is not.
    text = ngettext("Saved: %(value)s star for %(title)s.", "Saved: %(value)s stars for %(title)s.", 1 if value == 1 else 2) % {
        "value": f"{value:g}",
        "title": movie.title,
    }
    if htmx:
        big = request.POST.get("size") == "large"
        response = render(
            request,
            "catalog/_stars.html",
            {"movie": movie, "value": value, "large": big, "fragment": True, "next_url": _safe_next(request, movie.get_absolute_url())},
        )
        return _announce(response, text, **{"movierec:rated": {"movie": movie.pk, "count": request.user.ratings.count()}})
    messages.success(request, text)
    return redirect(_safe_next(request, movie.get_absolute_url()))


@login_required
@require_POST
def toggle_list(request: HttpRequest, pk: int, which: str) -> HttpResponse:
    """Add to / remove from the watchlist or the not-interested list.

    htmx callers say where the button lives (``context``): on a card, "not interested"
    turns the card into a short notice with an Undo button, and Undo brings the card back;
    elsewhere the button itself is swapped for its new state.
    """
    if which not in LISTS:
        raise Http404
    movie = get_object_or_404(selectors.movie_base_queryset(), pk=pk)
    action = request.POST.get("action", "add")
    if action not in ("add", "remove"):  # anything else must not silently remove the film
        return HttpResponseBadRequest(_("Unknown action: use add or remove."))
    add = action == "add"
    # A film is on one list at most, so adding to one list may take it off the other.
    was_watched, was_hidden = selectors.list_state(request.user, movie)
    if which == "watchlist":
        (services.watchlist_add if add else services.watchlist_remove)(user=request.user, movie=movie)
        text = (_("Added %(title)s to your watchlist.") if add else _("Removed %(title)s from your watchlist.")) % {"title": movie.title}
    else:
        (services.not_interested_add if add else services.not_interested_remove)(user=request.user, movie=movie)
        if not add and request.POST.get("rewatch") == "1":
            services.watchlist_add(user=request.user, movie=movie)  # Undo puts back what hiding removed
        text = (_("%(title)s is hidden from your recommendations.") if add else _("%(title)s is back in your recommendations.")) % {
            "title": movie.title
        }
    if not request.headers.get("HX-Request"):
        messages.success(request, text)
        return redirect(_safe_next(request, movie.get_absolute_url()))
    where = request.POST.get("context", "")
    back = {"next_url": _safe_next(request, movie.get_absolute_url())}
    why = request.POST.get("why", "")[:300]  # the card's explanation, kept across hide and Undo
    if where == "list":
        # The row leaves the list; the last one leaves the list's empty notice (focused, so
        # keyboard users are not dropped at the top of the page).
        empty = selectors.list_is_empty(request.user, which)
        response = HttpResponse(render_to_string("catalog/_list_empty.html", {"which": which, "focus": True}, request) if empty else "")
    elif which == "not-interested" and where == "card":
        if add:
            response = render(request, "catalog/_hidden_card.html", {"movie": movie, "rewatch": was_watched, "why": why, **back})
        else:
            context = {"movie": movie, "autofocus": True, "why": why, **back, **card_context(request, [movie])}
            response = render(request, "catalog/_card.html", context)
    else:
        button = {"movie": movie, "where": where, **back}
        response = render(request, "catalog/_list_button.html", {**button, "which": which, "on": add, "autofocus": True})
        other = "not-interested" if which == "watchlist" else "watchlist"
        if where == "detail" and add and (was_hidden if other == "not-interested" else was_watched):
            # The other list's button on the page is now stale: replace it out of band.
            oob = render(request, "catalog/_list_button.html", {**button, "which": other, "on": False, "oob": True}).content
            response.content += oob
    return _announce(response, text)

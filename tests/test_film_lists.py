"""Watchlist and not-interested: a film is on at most one of them, and a bad action changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import NotInterested, WatchlistItem
from catalog.services import not_interested_add, watchlist_add
from tests.factories import MovieFactory
from tests.test_api_recommendations import token_client


def test_adding_to_the_watchlist_takes_back_not_interested(user, db):
    film = MovieFactory()
    client = token_client(user)
    assert client.post("/api/v1/me/not-interested/", {"movie": film.pk}, format="json").status_code == 201
    assert client.post("/api/v1/me/watchlist/", {"movie": film.pk}, format="json").status_code == 201
    assert not NotInterested.objects.filter(user=user).exists()
    assert WatchlistItem.objects.filter(user=user, movie=film).exists()
    assert client.post("/api/v1/me/not-interested/", {"movie": film.pk}, format="json").status_code == 201
    assert not WatchlistItem.objects.filter(user=user).exists()
    assert client.post("/api/v1/me/not-interested/", {"movie": film.pk}, format="json").status_code == 200


@pytest.mark.parametrize("which", ["watchlist", "not-interested"])
@pytest.mark.parametrize("action", ["Add", "ADD", "add ", "", "bogus"])
def test_an_unknown_action_is_a_400_and_changes_nothing(client, user, db, which, action):
    film = MovieFactory()
    (watchlist_add if which == "watchlist" else not_interested_add)(user=user, movie=film)
    client.force_login(user)
    response = client.post(reverse("catalog:toggle_list", args=[film.pk, which]), {"action": action})
    assert response.status_code == 400
    model = WatchlistItem if which == "watchlist" else NotInterested
    assert model.objects.filter(user=user, movie=film).exists()


def test_remove_and_add_still_work_on_the_site(client, user, db):
    film = MovieFactory()
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "watchlist"])
    assert client.post(url, {"action": "add"}).status_code == 302
    assert WatchlistItem.objects.filter(user=user, movie=film).exists()
    assert client.post(url, {"action": "remove"}).status_code == 302
    assert not WatchlistItem.objects.filter(user=user, movie=film).exists()

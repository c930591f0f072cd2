"""Site flows found awkward in a browser review: no dead end in onboarding, lists that stay
consistent across hide and Undo, filters that survive one bad value, and honest page texts."""

from __future__ import annotations

import re

from django.urls import reverse

from catalog.models import WatchlistItem
from catalog.services import not_interested_add, rating_upsert, watchlist_add
from tests.factories import GenreFactory, MovieFactory

HX = {"HTTP_HX_REQUEST": "true"}


def test_onboarding_can_be_skipped_without_ratings(client, user, db):
    user.onboarded = False
    user.save()
    client.force_login(user)
    assert client.get("/")["Location"] == reverse("onboarding")
    page = client.get(reverse("onboarding") + "?step=rate").content.decode()
    assert 'name="skip"' in page
    response = client.post(reverse("onboarding_done"), {"skip": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    home = client.get("/")
    assert home.status_code == 200 and "Rate a few films to get recommendations." in home.content.decode()


def test_onboarding_suggestions_leave_out_rated_films(client, user, db):
    films = [MovieFactory(title=f"Popular {i}") for i in range(6)]
    for i, movie in enumerate(films):
        movie.rating_count = 100 - i
        movie.save()
    rating_upsert(user=user, movie=films[0], value=4.0)
    client.force_login(user)
    page = client.get(reverse("onboarding") + "?step=rate").content.decode()
    shown = {int(i) for i in re.findall(r'data-movie="(\d+)"', page)}
    assert films[0].pk not in shown and {m.pk for m in films[1:]} <= shown
    found = client.get(reverse("onboarding") + "?q=Popular 0").content.decode()
    assert f'data-movie="{films[0].pk}"' in found, "a search still finds it, to change the rating"


def test_one_bad_browse_filter_keeps_the_others(client, db):
    horror = GenreFactory(name="Horror")
    MovieFactory(title="Scream", genres=[horror])
    MovieFactory(title="Heat")
    page = client.get(reverse("catalog:browse"), {"genre": horror.slug, "sort": "nonsense", "decade": "80s"}).content.decode()
    assert "Scream" in page and "Heat" not in page


def test_hide_then_undo_puts_the_film_back_on_the_watchlist_with_its_reason(client, user, db):
    film = MovieFactory()
    watchlist_add(user=user, movie=film)
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "not-interested"])
    reason = "Because you rated Heat 5★"
    hidden = client.post(url, {"action": "add", "context": "card", "why": reason}, **HX).content.decode()
    assert not WatchlistItem.objects.filter(user=user).exists()
    assert 'name="rewatch" value="1"' in hidden
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', hidden))
    restored = client.post(url, {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}, **HX).content.decode()
    assert WatchlistItem.objects.filter(user=user, movie=film).exists()
    assert reason in restored and "✓" in restored


def test_detail_page_updates_the_other_list_button_too(client, user, db):
    film = MovieFactory()
    not_interested_add(user=user, movie=film)
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "watchlist"])
    body = client.post(url, {"action": "add", "context": "detail"}, **HX).content.decode()
    assert f'id="list-not-interested-{film.pk}" hx-swap-oob="true"' in body
    assert "Not interested" in body and "Hidden from recommendations" not in body
    plain = client.post(url, {"action": "remove", "context": "detail"}, **HX).content.decode()
    assert "hx-swap-oob" not in plain


def test_one_star_is_singular(client, user, db):
    film = MovieFactory(title="Heat")
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[film.pk]), {"value": "1"}, **HX)
    assert "Saved: 1 star for Heat." in response["HX-Trigger"]
    response = client.post(reverse("catalog:rate", args=[film.pk]), {"value": "0.5"}, **HX)
    assert "Saved: 0.5 stars for Heat." in response["HX-Trigger"]


def test_header_log_in_link_comes_back_to_the_page(client, db):
    page = client.get(reverse("catalog:browse"), {"genre": "drama"}).content.decode()
    assert 'href="/accounts/login/?next=/films/%3Fgenre%3Ddrama"' in page


def test_password_pages_have_titles_and_say_what_happened(client, user, db):
    sent = client.get(reverse("password_reset_done")).content.decode()
    assert "<title>Password reset sent · movierec</title>" in sent and "Check your inbox" in sent
    bad = client.get("/accounts/reset/Mg/bad-token/", follow=True).content.decode()
    assert "it has been used already or it has expired" in bad and reverse("password_reset") in bad
    client.force_login(user)
    done = client.get(reverse("password_change_done")).content.decode()
    assert "You are still logged in" in done

"""htmx clicks after the session ended: the whole page goes to the login form (and back), never a
login page pasted into a card; a stale CSRF token gets a "reload the page" message."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from catalog.models import Rating
from tests.factories import MovieFactory

HX = {"HTTP_HX_REQUEST": "true"}


def test_logged_out_star_click_redirects_the_whole_page(client, db):
    film = MovieFactory()
    page = f"http://testserver/films/{film.pk}/?from=home&x=1"
    response = client.post(reverse("catalog:rate", args=[film.pk]), {"value": "4"}, HTTP_HX_CURRENT_URL=page, **HX)
    assert response.status_code == 204 and not response.content
    assert response["HX-Redirect"] == f"/accounts/login/?next=/films/{film.pk}/%3Ffrom%3Dhome%26x%3D1"
    assert not Rating.objects.exists()


def test_logged_out_list_click_and_a_foreign_current_url(client, db):
    film = MovieFactory()
    url = reverse("catalog:toggle_list", args=[film.pk, "watchlist"])
    response = client.post(url, {"action": "add"}, HTTP_HX_CURRENT_URL="https://evil.example/phish", **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/accounts/login/?next=/"


def test_plain_requests_keep_the_usual_redirect(client, db):
    film = MovieFactory()
    response = client.post(reverse("catalog:rate", args=[film.pk]), {"value": "4"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_stale_csrf_token_on_htmx_says_reload(user, db):
    film = MovieFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(reverse("catalog:rate", args=[film.pk]), {"value": "4", "csrfmiddlewaretoken": "stale"}, **HX)
    assert response.status_code == 403 and response["Content-Type"].startswith("text/plain")
    assert "Reload the page" in response.content.decode()
    plain = browser.post(reverse("catalog:rate", args=[film.pk]), {"value": "4", "csrfmiddlewaretoken": "stale"})
    assert plain.status_code == 403 and plain["Content-Type"].startswith("text/html")
    assert not Rating.objects.exists()

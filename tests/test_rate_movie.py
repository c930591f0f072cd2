import pytest
from django.urls import reverse

from catalog.models import Movie, Rating
from catalog.services import rating_upsert
from tests.factories import MovieFactory


@pytest.fixture
def movie(db):
    return MovieFactory(title="Heat", year=1995)


def test_rating_is_created(client, user, movie):
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "4.5"})
    assert response.status_code == 302
    rating = Rating.objects.get(user=user, movie=movie)
    assert rating.value == 4.5
    movie.refresh_from_db()
    assert (movie.rating_count, movie.rating_avg) == (1, 4.5)


def test_rating_again_updates_it(client, user, movie):
    client.force_login(user)
    client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "2.0"})
    first = Rating.objects.get(user=user, movie=movie)
    client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "3.5"})
    assert Rating.objects.filter(user=user, movie=movie).count() == 1
    second = Rating.objects.get(user=user, movie=movie)
    assert second.value == 3.5
    assert second.updated_at >= first.updated_at
    movie.refresh_from_db()
    assert (movie.rating_count, movie.rating_sum) == (1, 3.5)


@pytest.mark.parametrize("bad", ["0", "5.5", "3.2", "-1", "abc", "", "NaN", "inf", "1e9"])
def test_bad_ratings_are_rejected(client, user, movie, bad):
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": bad}, follow=True)
    assert not Rating.objects.exists()
    assert "0.5 and 5.0" in response.content.decode()


@pytest.mark.parametrize(("sent", "stored"), [("4", 4.0), ("4.50", 4.5), (" 3.0 ", 3.0), ("0.5", 0.5)])
def test_any_spelling_of_a_valid_rating_is_accepted(client, user, movie, sent, stored):
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": sent}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert Rating.objects.get(user=user, movie=movie).value == stored


def test_service_rejects_out_of_range(user, movie):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="0.5 and 5.0"):
        rating_upsert(user=user, movie=movie, value=6)
    assert Movie.objects.get(pk=movie.pk).rating_count == 0


def test_anonymous_cannot_rate(client, movie):
    response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "4"})
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert not Rating.objects.exists()


def test_htmx_rating_returns_fragment(client, user, movie):
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "5.0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="stars-{movie.pk}"' in response.content.decode()
    assert Rating.objects.get().value == 5.0


def test_rating_shows_on_profile(client, user, movie):
    client.force_login(user)
    client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "4.0"})
    page = client.get(reverse("profile")).content.decode()
    assert "Heat" in page and "4.0" in page

import pytest
from django.urls import reverse

from tests.factories import GenreFactory, MovieFactory


@pytest.fixture
def catalogue(db):
    comedy, horror = GenreFactory(name="Comedy", slug="comedy"), GenreFactory(name="Horror", slug="horror")
    return {
        "amelie": MovieFactory(title="Amélie", year=2001, genres=[comedy], rating_count=50),
        "shining": MovieFactory(title="The Shining", year=1980, genres=[horror], rating_count=80),
        "airplane": MovieFactory(title="Airplane!", year=1980, genres=[comedy], rating_count=10),
    }


def titles(response) -> list[str]:
    return [m.title for m in response.context["page"].object_list]


def test_title_search_ignores_accents_and_case(client, catalogue):
    assert titles(client.get(reverse("catalog:browse"), {"q": "AMELIE"})) == ["Amélie"]
    assert titles(client.get(reverse("catalog:browse"), {"q": "amélie"})) == ["Amélie"]


def test_genre_and_decade_filters(client, catalogue):
    assert titles(client.get(reverse("catalog:browse"), {"genre": "comedy", "decade": 1980})) == ["Airplane!"]
    assert set(titles(client.get(reverse("catalog:browse"), {"decade": 1980}))) == {"The Shining", "Airplane!"}


def test_sorting(client, catalogue):
    assert titles(client.get(reverse("catalog:browse"), {"sort": "popular"})) == ["The Shining", "Amélie", "Airplane!"]
    assert titles(client.get(reverse("catalog:browse"), {"sort": "newest"}))[0] == "Amélie"
    assert titles(client.get(reverse("catalog:browse"), {"sort": "title"}))[0] == "Airplane!"


def test_pagination(client, db):
    for i in range(30):
        MovieFactory(title=f"Paged {i:02d}")
    first = client.get(reverse("catalog:browse"), {"sort": "title"})
    second = client.get(reverse("catalog:browse"), {"sort": "title", "page": 2})
    assert len(titles(first)) == 24 and len(titles(second)) == 6
    assert not set(titles(first)) & set(titles(second))


def test_hostile_query_is_harmless(client, catalogue):
    response = client.get(reverse("catalog:browse"), {"q": "<script>alert(1)</script>' OR 1=1 --" * 20})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_anonymous_home_shows_popular(client, catalogue):
    page = client.get(reverse("home")).content.decode()
    assert "The Shining" in page and "Sign up" in page


def test_detail_page(client, catalogue, user):
    movie = catalogue["shining"]
    client.force_login(user)
    page = client.get(movie.get_absolute_url()).content.decode()
    assert "The Shining" in page and "Your rating" in page


def test_unknown_film_is_404(client, db):
    assert client.get(reverse("catalog:movie_detail", args=[999999])).status_code == 404


def test_browse_makes_a_fixed_number_of_queries(client, db, django_assert_max_num_queries):
    for i in range(20):
        MovieFactory(title=f"Q{i}", genres=[GenreFactory(name=f"G{i % 3}")])
    with django_assert_max_num_queries(12):
        client.get(reverse("catalog:browse"))

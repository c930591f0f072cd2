from django.urls import reverse

from catalog.models import Credit, Movie, Person
from tests.factories import GenreFactory


def test_staff_adds_a_film_and_it_appears_on_the_site(client, staff):
    genre = GenreFactory(name="Drama", slug="drama")
    person = Person.objects.create(name="Agnès Varda")
    client.force_login(staff)
    response = client.post(
        reverse("admin:catalog_movie_add"),
        {
            "title": "Cléo from 5 to 7", "year": "1962", "genres": [genre.pk], "overview": "Two hours in Paris.",
            "tagline": "", "runtime": "90", "tags": "[]", "poster_url": "", "imdb_id": "",
            "credits-TOTAL_FORMS": "1", "credits-INITIAL_FORMS": "0", "credits-MIN_NUM_FORMS": "0", "credits-MAX_NUM_FORMS": "1000",
            "credits-0-person": person.pk, "credits-0-role": "director", "credits-0-order": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    movie = Movie.objects.get(title="Cléo from 5 to 7")
    assert Credit.objects.filter(movie=movie, person=person, role="director").exists()
    client.logout()
    page = client.get(reverse("catalog:browse"), {"q": "cleo"}).content.decode()
    assert "Cléo from 5 to 7" in page
    detail = client.get(movie.get_absolute_url()).content.decode()
    assert "Agnès Varda" in detail


def test_admin_lists_load(client, staff):
    client.force_login(staff)
    for name in ["catalog_movie", "catalog_genre", "catalog_person", "catalog_rating", "accounts_user"]:
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    assert client.get(reverse("admin:catalog_movie_changelist"), {"q": "x", "decade": "1990"}).status_code == 200


def test_non_staff_cannot_use_admin(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:catalog_movie_changelist"))
    assert response.status_code == 302

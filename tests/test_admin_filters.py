"""The admin's film filters answer a bad value with the admin's own notice, never a 500."""

from django.urls import reverse

from tests.factories import MovieFactory


def test_decade_filter(client, staff):
    MovieFactory(title="Heat", year=1995)
    MovieFactory(title="Alien", year=1979)
    client.force_login(staff)
    url = reverse("admin:catalog_movie_changelist")
    page = client.get(url, {"decade": "1990"}).content.decode()
    assert "Heat" in page and "Alien" not in page
    for bad in ("abc", "1e3", "1995", "-10"):
        response = client.get(url, {"decade": bad})
        assert response.status_code == 302 and "e=1" in response["Location"]

import pytest

from catalog.models import Movie
from recommendations.engine import similar_movies

pytestmark = pytest.mark.slow

FAMILY = {"Animation", "Children"}


def test_toy_story_neighbours_are_animated_or_family(starter_model):
    toy = Movie.objects.get(title="Toy Story", year=1995)
    recs = similar_movies(toy, k=10)
    assert len(recs) == 10
    assert toy.pk not in {r.movie_id for r in recs}
    family = [r for r in recs if {g.name for g in r.movie.genres.all()} & FAMILY]
    assert len(family) >= 4, [r.movie.title for r in recs]
    assert all(r.version_id == starter_model.pk for r in recs)


def test_detail_page_shows_similar_films(client, starter_model):
    toy = Movie.objects.get(title="Toy Story", year=1995)
    page = client.get(toy.get_absolute_url()).content.decode()
    first = similar_movies(toy, k=1)[0].movie
    assert "Similar films" in page and first.title in page

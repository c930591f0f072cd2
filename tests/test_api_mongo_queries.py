"""The catalogue API's sort orders and genre queries compile for django-mongodb-backend (static MQL, no server)."""

from __future__ import annotations

import pytest
from bson import json_util

from tests.test_mongo_settings import run

PROBE = """
import django
django.setup()
from bson import json_util
from catalog import selectors
from movierec.mongo import mql_for

queries = {f"sort_{name}": selectors.movie_list(selectors.MovieFilters(sort=name))[:20] for name in selectors.SORTS}
queries["search"] = selectors.movie_list(selectors.MovieFilters(q="Alien"))[:20]
queries["genre_named"] = selectors.genre_named_query("Sci Fi")
queries["genre_film_counts"] = selectors.genre_film_counts_query()
print(json_util.dumps({name: mql_for(q) for name, q in queries.items()}))
"""


@pytest.fixture(scope="module")
def mql(tmp_path_factory) -> dict:
    result = run(PROBE, tmp_path_factory.mktemp("mql"), mongo=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json_util.loads(result.stdout.strip().splitlines()[-1])


def sort_of(query: dict) -> dict:
    (stage,) = [stage["$sort"] for stage in query["pipeline"] if "$sort" in stage]
    return stage


@pytest.mark.parametrize("name", ["popular", "title", "newest", "oldest", "added"])
def test_every_ordering_sorts_by_id_last(mql, name):
    assert list(sort_of(mql[f"sort_{name}"]))[-1] == "_id"


def test_genre_lookup_is_one_collection(mql):
    query = mql["genre_named"]
    assert query["collection"] == "catalog_genre"
    assert not any("$lookup" in stage for stage in query["pipeline"])


def test_film_counts_group_the_through_collection_without_a_join(mql):
    query = mql["genre_film_counts"]
    assert query["collection"] == "catalog_movie_genres"
    assert any("$group" in stage for stage in query["pipeline"])
    assert not any("$lookup" in stage for stage in query["pipeline"])


def test_a_search_sorts_the_exact_title_first(mql):
    assert next(iter(sort_of(mql["search"]))) == "not_exact"

"""Genre slugs: names that slugify alike are one genre; names without Latin letters get a slug of their own."""

from __future__ import annotations

from catalog.models import Genre
from catalog.services import genres_ensure


def test_names_with_one_slug_are_one_genre(db) -> None:
    first, second = genres_ensure(["Sci-Fi", " Sci Fi "])
    assert first.pk == second.pk and Genre.objects.count() == 1


def test_names_without_latin_letters_get_distinct_slugs(db) -> None:
    marks, bangs = genres_ensure(["???", "!!!"])
    chinese = Genre.objects.create(name="科幻")
    slugs = {marks.slug, bangs.slug, chinese.slug}
    assert len(slugs) == 3 and all(slugs)
    assert genres_ensure(["???"])[0].pk == marks.pk  # stable: the same name finds the same genre

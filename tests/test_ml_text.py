"""film_text renders the documented template and degrades cleanly."""

from __future__ import annotations

from types import SimpleNamespace

from recommendations.ml.text import FilmDoc, film_short_text, film_text

TOY_STORY = FilmDoc(
    title="Toy Story",
    year=1995,
    genres=["Animation", "Children", "Comedy"],
    directors=["John Lasseter"],
    cast=["Tom Hanks", "Tim Allen"],
    tags=["pixar", "toys"],
    overview="Woody and Buzz.",
)


def test_full_template() -> None:
    assert film_text(TOY_STORY) == (
        "Toy Story (1995). Genres: Animation, Children, Comedy. Directed by John Lasseter. "
        "Starring Tom Hanks, Tim Allen. Tags: pixar, toys. Woody and Buzz."
    )


def test_mapping_and_object_render_alike() -> None:
    fields = dict(vars(TOY_STORY))
    assert film_text(fields) == film_text(TOY_STORY)
    assert film_text(SimpleNamespace(**fields)) == film_text(TOY_STORY)


def test_missing_parts_are_omitted() -> None:
    assert film_text({"title": "Heat"}) == "Heat."
    assert film_text({"title": "Heat", "overview": None, "cast": [], "tags": None}) == "Heat."
    assert film_text({"overview": "Only words."}) == "Only words."
    assert film_text({}) == ""
    assert film_text(FilmDoc()) == ""
    assert "None" not in film_text({"title": "X", "year": None, "overview": float("nan")})


def test_movielens_conventions() -> None:
    text = film_text({"title": "Matrix, The (1999)", "genres": "Action|Sci-Fi"})
    assert text == "The Matrix (1999). Genres: Action, Sci-Fi."
    assert film_text({"title": "Heat (1995)", "year": 1995}) == "Heat (1995)."
    assert film_text({"title": "Obscure", "genres": "(no genres listed)"}) == "Obscure."


def test_lists_are_deduplicated_capped_and_cleaned() -> None:
    cast = ["A  B", "a b", "", None, *[f"Actor {i}" for i in range(20)]]
    text = film_text({"title": "T", "cast": cast})
    assert text.startswith("T. Starring A B, Actor 0, Actor 1, Actor 2, Actor 3.")
    assert "Actor 4" not in text


def test_whitespace_and_unicode() -> None:
    text = film_text(
        {
            "title": " 千与千寻 \n",
            "year": "2001",
            "overview": "Chihiro\t\tfinds  a bathhouse",
        }
    )
    assert text == "千与千寻 (2001). Chihiro finds a bathhouse"


def test_short_text() -> None:
    assert film_short_text(TOY_STORY, max_genres=2) == "Toy Story (1995) [Animation, Children]"
    assert film_short_text({"title": "Heat"}) == "Heat"

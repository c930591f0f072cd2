"""The site as a film lover sees it, server side: home rows, onboarding, one-click rating,
watchlist / not interested / undo, my pages and CSV, generated posters, and complete translations.

Browser-level behaviour (no reload, focus, switching language) is in tests/test_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from catalog.models import Movie, NotInterested, Rating, WatchlistItem
from catalog.services import not_interested_add, rating_upsert, watchlist_add
from recommendations.onboarding import MIN_RATINGS
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory

PO_FILE = Path(__file__).resolve().parents[1] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
HX = {"HTTP_HX_REQUEST": "true"}


# --- helpers -----------------------------------------------------------------------


def section_ids(page: str, section: str) -> list[int]:
    """Film ids of the cards in one row (<section id=...>) of a page, in order."""
    match = re.search(rf'<section[^>]*id="{re.escape(section)}"[^>]*>(.*?)</section>', page, re.S)
    assert match, f"no section {section!r}"
    return [int(i) for i in re.findall(r'<article class="card" data-movie="(\d+)"', match.group(1))]


def all_card_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'<article class="card" data-movie="(\d+)"', page)}


def why_texts(page: str, section: str) -> list[str]:
    match = re.search(rf'<section[^>]*id="{re.escape(section)}"[^>]*>(.*?)</section>', page, re.S)
    assert match
    return re.findall(r'<p class="why">(.*?)</p>', match.group(1), re.S)


def hx_trigger(response) -> dict:
    return json.loads(response["HX-Trigger"])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str, name: str) -> list[dict[str, str | None]]:
    parser = _Tags()
    parser.feed(html)
    return [attrs for tag, attrs in parser.tags if tag == name]


def animated_films() -> list[Movie]:
    return [m for m in Movie.objects.with_genres() if {"Animation", "Children"} <= {g.name for g in m.genres.all()}]


@pytest.fixture
def film(db) -> Movie:
    return MovieFactory(title="Heat", year=1995, genres=[GenreFactory(name="Crime")])


# --- home, rows and the per-user cache (real model) ---------------------------------------


@pytest.mark.slow
def test_member_home_has_every_row_with_reasons_and_hides_not_interested(client, user, starter_model):
    films = animated_films()
    for movie in films[:6]:
        rating_upsert(user=user, movie=movie, value=5.0)
    hidden = Movie.objects.exclude(pk__in=[m.pk for m in films[:6]]).order_by("-rating_count", "title").first()
    not_interested_add(user=user, movie=hidden)
    client.force_login(user)
    page = client.get("/").content.decode()

    for_you = section_ids(page, "for-you")
    assert len(for_you) == 12
    assert not set(for_you) & {m.pk for m in films[:6]}, "rated films are not recommended again"
    reasons = why_texts(page, "for-you")
    assert len(reasons) == 12 and all(r.startswith("Because you rated") for r in reasons)
    rated_titles = {m.title for m in films[:6]}
    assert all(any(t in r for t in rated_titles) for r in reasons)
    assert 2 <= len(re.findall(r'<section[^>]*id="because-\d"', page)) <= 3
    assert "Because you liked" in page
    for row in ("trending", "new", "continue"):
        assert section_ids(page, row), row
    assert hidden.pk not in all_card_ids(page), "a not-interested film shows in no row"
    cards = [int(i) for i in re.findall(r'<article class="card" data-movie="(\d+)"', page)]
    assert len(cards) == len(set(cards)), "each film once: a second copy would go stale when the first is rated"


@pytest.mark.slow
def test_a_rating_changes_the_for_you_row_on_the_next_page_view(client, user, starter_model):
    for movie in animated_films()[:5]:
        rating_upsert(user=user, movie=movie, value=5.0)
    client.force_login(user)
    before = section_ids(client.get("/").content.decode(), "for-you")
    first = Movie.objects.get(pk=before[0])

    response = client.post(reverse("catalog:rate", args=[first.pk]), {"value": "0.5"}, **HX)
    assert response.status_code == 200
    assert hx_trigger(response)["movierec:rated"] == {"movie": first.pk, "count": 6}

    after = section_ids(client.get("/").content.decode(), "for-you")
    assert first.pk not in after and after != before

    # "Not interested" from a card: gone from the row on the next view too.
    gone = after[0]
    client.post(reverse("catalog:toggle_list", args=[gone, "not-interested"]), {"action": "add", "context": "card"}, **HX)
    assert gone not in section_ids(client.get("/").content.decode(), "for-you")


@pytest.mark.slow
def test_sign_up_onboarding_and_first_recommendations(client, starter_model):
    response = client.post(
        reverse("signup"),
        {"username": "newfan", "email": "newfan@example.com", "password1": "a-long-test-password-1", "password2": "a-long-test-password-1"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("onboarding")
    assert client.get("/")["Location"] == reverse("onboarding"), "a new member starts with onboarding"

    step1 = client.get(reverse("onboarding")).content.decode()
    assert 'name="genres" value="animation"' in step1 and 'aria-current="step"' in step1
    response = client.post(reverse("onboarding"), {"genres": ["animation", "comedy"]})
    assert response["Location"] == reverse("onboarding") + "?step=rate"

    step2 = client.get(response["Location"])
    films = step2.context["films"]
    assert len(films) >= 20
    first_genres = {g.name for g in films[0].genres.all()}
    assert first_genres & {"Animation", "Comedy"}, "favourite genres come first"
    assert len({g.name for m in films for g in m.genres.all()}) >= 8, "a diverse set"
    assert 'data-rated-count>0<' in step2.content.decode()
    searched = client.get(reverse("onboarding"), {"step": "rate", "q": "toy story"}).context["films"]
    assert searched and all("Toy Story" in m.title for m in searched)

    too_early = client.post(reverse("onboarding_done"), follow=True)
    assert "Please rate at least 5 films first." in too_early.content.decode()

    for n, movie in enumerate(animated_films()[:MIN_RATINGS], start=1):
        response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "4.5"}, **HX)
        assert hx_trigger(response)["movierec:rated"]["count"] == n
    response = client.post(reverse("onboarding_done"))
    assert response["Location"] == reverse("home")
    home = client.get("/").content.decode()
    assert len(section_ids(home, "for-you")) == 12
    assert all(w.startswith("Because you rated") for w in why_texts(home, "for-you"))


@pytest.mark.slow
def test_plain_words_search_explains_each_result(client, user, starter_model):
    client.force_login(user)
    response = client.get(reverse("search"), {"q": "a funny heist film from the 2000s"})
    page = response.content.decode()
    items = response.context["items"]
    assert items and 'id="ask-results"' in page
    assert all(2000 <= m.year <= 2009 for m in (i.movie for i in items))
    assert "Understood: <strong>Comedy, Crime, the 2000s</strong>" in page
    for item in items:
        genres = {g.name for g in item.movie.genres.all()} & {"Comedy", "Crime"}
        assert genres, "every result has a requested genre"
        assert item.why.startswith("Matches your request: " + ", ".join(g for g in ("Comedy", "Crime") if g in genres) + ", the 2000s")
        assert f'<p class="why">{item.why}</p>' in page.replace("&ldquo;", "“").replace("&rdquo;", "”")
    assert any("about “heist”" in item.why for item in items), "request words found in a film's own text are named"

    titles = client.get(reverse("search"), {"q": "Toy Story"})
    assert [m.title for m in titles.context["titles"]][:1] and titles.context["answer"] is None


# --- rating and list actions (no model needed) ---------------------------------------------


def test_star_buttons_are_labelled_buttons_in_a_fieldset(client, user, film):
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[film.pk]), {"value": "3.5"}, **HX)
    html = response.content.decode()
    assert "<fieldset" in html and '<legend class="visually-hidden">Your rating for Heat</legend>' in html
    buttons = tags(html, "button")
    assert [b["value"] for b in buttons] == [str(x / 2) for x in range(1, 11)]
    assert all(b["aria-label"] and b["aria-label"].startswith("Rate ") for b in buttons)
    assert [b["value"] for b in buttons if b["aria-pressed"] == "true"] == ["3.5"]
    assert html.count("star half on") + html.count("star full on") == 7
    assert hx_trigger(response)["movierec:announce"] == "Saved: 3.5 stars for Heat."
    assert 'name="next" value="/films/' in html, "the fragment's no-JS fallback returns to the film"


def test_invalid_htmx_rating_is_a_plain_text_400(client, user, film):
    client.force_login(user)
    response = client.post(reverse("catalog:rate", args=[film.pk]), {"value": "7"}, **HX)
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")
    assert not Rating.objects.exists()


def test_rating_without_javascript_returns_only_to_local_pages(client, user, film):
    client.force_login(user)
    url = reverse("catalog:rate", args=[film.pk])
    assert client.post(url, {"value": "4.0", "next": "/films/"})["Location"] == "/films/"
    assert client.post(url, {"value": "4.0", "next": "https://evil.example/"})["Location"] == film.get_absolute_url()


def test_watchlist_button_toggles_in_place(client, user, film):
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "watchlist"])
    on = client.post(url, {"action": "add", "context": "card"}, **HX)
    assert WatchlistItem.objects.filter(user=user, movie=film).exists()
    button = tags(on.content.decode(), "button")[0]
    assert button["aria-pressed"] == "true"
    assert 'name="action" value="remove"' in on.content.decode()
    assert hx_trigger(on)["movierec:announce"] == "Added Heat to your watchlist."
    off = client.post(url, {"action": "remove", "context": "card"}, **HX)
    assert tags(off.content.decode(), "button")[0]["aria-pressed"] == "false"
    assert not WatchlistItem.objects.exists()


def test_not_interested_turns_the_card_into_an_undo_notice_and_back(client, user, film):
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "not-interested"])
    hidden = client.post(url, {"action": "add", "context": "card"}, **HX).content.decode()
    assert NotInterested.objects.filter(user=user, movie=film).exists()
    assert 'class="card hidden-card"' in hidden and "won’t be recommended to you again" in hidden
    undo = tags(hidden, "button")[0]
    assert "undo" in undo["class"] and "autofocus" in undo, "keyboard focus lands on Undo"
    assert 'name="action" value="remove"' in hidden

    restored = client.post(url, {"action": "remove", "context": "card"}, **HX).content.decode()
    assert not NotInterested.objects.exists()
    assert f'<article class="card" data-movie="{film.pk}">' in restored and "autofocus" in restored


def test_not_interested_on_the_detail_page_is_a_toggle(client, user, film):
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "not-interested"])
    response = client.post(url, {"action": "add", "context": "detail"}, **HX).content.decode()
    assert tags(response, "button")[0]["aria-pressed"] == "true" and "Hidden from recommendations" in response
    page = client.get(film.get_absolute_url()).content.decode()
    assert "Hidden from recommendations" in page


def test_list_actions_without_javascript_redirect_with_a_message(client, user, film):
    client.force_login(user)
    url = reverse("catalog:toggle_list", args=[film.pk, "watchlist"])
    response = client.post(url, {"action": "add", "next": reverse("my_lists")}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("my_lists")
    assert "Added Heat to your watchlist." in response.content.decode()


def test_unknown_list_is_404_and_lists_need_post_and_login(client, user, film):
    assert client.post(reverse("catalog:toggle_list", args=[film.pk, "watchlist"]))["Location"].startswith(reverse("login"))
    client.force_login(user)
    assert client.post(reverse("catalog:toggle_list", args=[film.pk, "favourites"])).status_code == 404
    assert client.get(reverse("catalog:toggle_list", args=[film.pk, "watchlist"])).status_code == 405
    assert not WatchlistItem.objects.exists() and not NotInterested.objects.exists()


# --- my pages and CSV --------------------------------------------------------------------------


def test_my_films_sorts_ratings_and_undoes_not_interested(client, user, db):
    a, b, c = (MovieFactory(title=t) for t in ("Alien", "Brazil", "Casablanca"))
    for movie, value in ((b, 2.0), (c, 5.0), (a, 3.5)):
        rating_upsert(user=user, movie=movie, value=value)
    hidden = MovieFactory(title="Dune")
    not_interested_add(user=user, movie=hidden)
    watchlist_add(user=user, movie=MovieFactory(title="Eraserhead"))
    client.force_login(user)

    def order(sort: str) -> list[str]:
        return [r.movie.title for r in client.get(reverse("my_lists"), {"sort": sort}).context["page"].object_list]

    assert order("recent") == ["Alien", "Casablanca", "Brazil"]
    assert order("rating") == ["Casablanca", "Alien", "Brazil"]
    assert order("lowest") == ["Brazil", "Alien", "Casablanca"]
    assert order("title") == ["Alien", "Brazil", "Casablanca"]
    assert order("nonsense") == order("recent")
    page = client.get(reverse("my_lists")).content.decode()
    assert "Dune" in page and "Eraserhead" in page and 'aria-current="true"' in page

    other = MovieFactory(title="Fargo")
    not_interested_add(user=user, movie=other)
    undo = client.post(reverse("catalog:toggle_list", args=[hidden.pk, "not-interested"]), {"action": "remove", "context": "list"}, **HX)
    assert undo.status_code == 200 and undo.content == b""  # the row leaves the list
    last = client.post(reverse("catalog:toggle_list", args=[other.pk, "not-interested"]), {"action": "remove", "context": "list"}, **HX)
    assert last.content.decode().strip() == '<li tabindex="-1" autofocus>Nothing hidden.</li>'  # the empty notice, focused
    assert not NotInterested.objects.filter(user=user).exists()


def test_ratings_csv_has_only_my_ratings_and_no_formulas(client, user, db):
    mine = MovieFactory(title="Amélie", year=2001)
    formula = MovieFactory(title="=HYPERLINK(\"http://evil\")", year=None)
    rating_upsert(user=user, movie=mine, value=4.5)
    rating_upsert(user=user, movie=formula, value=1.0)
    RatingFactory(user=UserFactory(username="someone-else"), movie=MovieFactory(title="Not mine"))
    assert client.get(reverse("ratings_csv"))["Location"].startswith(reverse("login"))
    client.force_login(user)
    response = client.get(reverse("ratings_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="my-ratings.csv"'
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["movie_id", "title", "year", "rating", "rated_at"]
    assert {r[1] for r in rows[1:]} == {"Amélie", "'=HYPERLINK(\"http://evil\")"}
    assert next(r for r in rows if r[1] == "Amélie")[2:4] == ["2001", "4.5"]


# --- posters -------------------------------------------------------------------------------------

HOSTILE_TITLES = [
    '"><script>alert(1)</script>',
    "\" onload=\"alert(1)\" x=\"",
    "Tom & Jerry <b>bold</b> ]]> <!-- -->",
    "Bell\x07 and \x00null\x1b[31m",
    "千与千寻千与千寻千与千寻千与千寻千与千寻千与千寻千与千寻千与千寻",
    "Supercalifragilisticexpialidocious " * 6,
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_generated_poster_is_well_formed_svg_whatever_the_title(client, db, title):
    movie = MovieFactory(title=title, year=1999, genres=[GenreFactory(name="Comedy")])
    response = client.get(reverse("poster", args=[movie.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    root = ET.fromstring(response.content)  # raises on anything not well formed
    names = {el.tag.split("}")[-1] for el in root.iter()}
    assert names <= {"svg", "defs", "linearGradient", "stop", "rect", "path", "text", "tspan"}
    for el in root.iter():
        assert not any(attr.lower().startswith("on") for attr in el.attrib), el.attrib
    lines = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}tspan")]
    assert 1 <= len(lines) <= 5
    assert all(len(line) <= 16 for line in lines), lines
    expected = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", title).split()[0][:4]
    assert expected in "".join(lines)
    assert "1999" in response.content.decode()


def test_poster_colour_comes_from_the_genre(client, db):
    comedy = MovieFactory(title="A", genres=[GenreFactory(name="Comedy")])
    horror = MovieFactory(title="B", genres=[GenreFactory(name="Horror")])
    c = client.get(reverse("poster", args=[comedy.pk])).content.decode()
    h = client.get(reverse("poster", args=[horror.pk])).content.decode()
    assert 'stop-color="#8a5a00"' in c and 'stop-color="#7f0000"' in h


# --- other pages -------------------------------------------------------------------------------------


def test_anonymous_home_invites_to_sign_up_with_trending_and_popular_rows(client, db):
    for i in range(30):
        MovieFactory(title=f"Popular {i:02d}", rating_count=100 - i)
    page = client.get("/").content.decode()
    assert reverse("signup") in page and "Sign up — it takes a minute" in page
    trending, popular = section_ids(page, "trending"), section_ids(page, "popular")
    assert len(trending) == 12 and len(popular) == 12 and not set(trending) & set(popular)
    assert "Log in to rate" in page


def test_detail_page_has_rating_chart_and_accessible_table(client, user, film):
    for i, value in enumerate([5.0, 5.0, 4.0, 0.5]):
        RatingFactory(user=UserFactory(username=f"r{i}"), movie=film, value=value)
        Movie.objects.filter(pk=film.pk).update(rating_count=i + 1)
    Movie.objects.filter(pk=film.pk).update(rating_sum=14.5)
    client.force_login(user)
    response = client.get(film.get_absolute_url())
    page = response.content.decode()
    assert "Average 3.6 ★ from 4 ratings" in page
    bars = response.context["chart"]
    assert [b["n"] for b in bars] == [1, 0, 0, 0, 0, 0, 0, 1, 0, 2]
    assert max(b["h"] for b in bars) == 60 and bars[-1]["h"] == 60 and bars[0]["h"] == 30
    assert '<caption>Rating distribution</caption>' in page
    assert page.count('<rect x=') == 10
    assert 'class="stars large"' in page


def test_every_page_has_one_main_landmark_lang_and_labelled_controls(client, user, film):
    client.force_login(user)
    for url in ["/", film.get_absolute_url(), reverse("catalog:browse"), reverse("search") + "?q=heat",
                reverse("my_lists"), reverse("onboarding"), reverse("onboarding") + "?step=rate"]:
        page = client.get(url).content.decode()
        assert page.count("<main") == 1 and '<html lang="en"' in page, url
        assert all(img.get("alt") is not None for img in tags(page, "img")), url
        labelled = {t["for"] for t in tags(page, "label") if t.get("for")}
        for field in tags(page, "input") + tags(page, "select"):
            if field.get("type") in ("hidden", "submit", "checkbox"):
                continue
            assert field.get("id") in labelled or field.get("aria-label"), (url, field)
        assert "Film data from MovieLens" in page and "not endorsed or certified by TMDB" in page


# --- translations ------------------------------------------------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr / msgstr[n], flags."""
    entries: list[dict] = []
    entry: dict = {"flags": set(), "msgstr": {}}
    key: tuple[str, int | None] | None = None

    def flush() -> None:
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {"flags": set(), "msgstr": {}}

    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            flush()
            key = None
        elif line.startswith("#,"):
            entry["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        else:
            match = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(\".*\")$", line)
            if match:
                name, index = match.group(1), match.group(2)
                key = (name, int(index) if index is not None else None)
                value = json.loads(match.group(3))
            else:
                value = json.loads(line)
            assert key is not None, raw
            if key[0] == "msgstr":
                entry["msgstr"][key[1] or 0] = entry["msgstr"].get(key[1] or 0, "") + value
            else:
                entry[key[0]] = entry.get(key[0], "") + value
    return entries


def test_chinese_translation_is_complete_and_not_fuzzy():
    entries = [e for e in parse_po(PO_FILE) if e["msgid"]]
    assert len(entries) > 150
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    empty = [e["msgid"] for e in entries if not all(e["msgstr"].values()) or not e["msgstr"]]
    assert not fuzzy, fuzzy
    assert not empty, empty
    header = next(e for e in parse_po(PO_FILE) if e["msgid"] == "")
    assert "fuzzy" not in header["flags"] and "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"][0]


def test_chinese_placeholders_match_the_english():
    for entry in parse_po(PO_FILE):
        if not entry["msgid"]:
            continue
        wanted = sorted(re.findall(r"%\(\w+\)[sd]", entry["msgid"]))
        for text in entry["msgstr"].values():
            assert sorted(re.findall(r"%\(\w+\)[sd]", text)) == wanted, (entry["msgid"], text)

"""The site in a real browser: Debian's chromium driven by Playwright against a live server.

Covers sign-up → onboarding → five ratings → recommendations that reflect them; rating,
watchlist and "not interested" from a card without a page reload (and by keyboard); a
plain-words search; switching to Chinese; and the screenshot command.

Never downloads a browser (`playwright install` is not used): it runs /usr/bin/chromium,
which scripts/install.sh --dev installs with apt, and skips when it is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.models import Movie, NotInterested, Rating, WatchlistItem
from catalog.services import rating_upsert
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a-long-test-password-1"
FAMILY = {"Animation", "Children"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (scripts/install.sh --dev installs it with apt)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")
expect = sync_api.expect


def _load_screenshots_module() -> Any:
    spec = importlib.util.spec_from_file_location("movierec_screenshots", ROOT / "scripts" / "screenshots.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


shots = _load_screenshots_module()


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.test_i18n import ensure_compiled_messages

    ensure_compiled_messages()
    with sync_api.sync_playwright() as p:
        chromium = shots.launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True, scope="module")
def _orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls (and the
    database flush after each test) stay synchronous. Module scope: set before, and kept until after,
    every function-level fixture."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(60_000)  # the first plain-words request may load the language model
    yield tab
    context.close()


@pytest.fixture
def starter_model_tx(transactional_db: None) -> Any:
    """tests/conftest.py's starter_model for a live server, in a transactional database."""
    from tests.conftest import promote_starter_model

    return promote_starter_model()


def family_films() -> list[Movie]:
    return [m for m in Movie.objects.with_genres().order_by("-rating_count", "title") if {g.name for g in m.genres.all()} >= FAMILY]


@pytest.fixture
def member(starter_model_tx: Any) -> Any:
    user = UserFactory(username="cinephile")
    for movie in family_films()[:6]:
        rating_upsert(user=user, movie=movie, value=5.0)
    return user


def log_in(page: Any, base: str, username: str) -> None:
    shots.log_in(page, base, shots.Account(username, PASSWORD))
    expect(page.locator("header .username")).to_have_text(username)


def genres_of(ids: list[int]) -> list[set[str]]:
    movies = Movie.objects.with_genres().in_bulk(ids)
    return [{g.name for g in movies[i].genres.all()} for i in ids]


def row_ids(page: Any, row: str) -> list[int]:
    return [int(x) for x in page.locator(f"section#{row} article.card:not(.hidden-card)").evaluate_all("els => els.map(e => e.dataset.movie)")]


# --- tests ---------------------------------------------------------------------------------------


def test_new_member_goes_from_sign_up_to_personal_recommendations_in_under_a_minute(page: Any, live_server: Any, starter_model_tx: Any) -> None:
    base = live_server.url
    started = time.monotonic()
    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_username", "newfan")
    page.fill("#id_email", "newfan@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    # Step 1: favourite genres.
    expect(page).to_have_url(re.compile(r"/onboarding/$"))
    page.get_by_label("Animation").check()
    page.get_by_label("Children").check()
    page.get_by_role("button", name="Next: rate some films").click()

    # Step 2: rate five films from the suggested set, and one found by searching, without reloads.
    expect(page).to_have_url(re.compile(r"step=rate"))
    page.evaluate("window.__marker = 'still here'")
    counter = page.locator("[data-rated-count]")
    expect(counter).to_have_text("0")
    cards = page.locator("#onb-films article.card")
    suggested = [int(x) for x in cards.evaluate_all("els => els.map(e => e.dataset.movie)")]
    family = {m.pk for m in family_films()}
    to_rate = [pk for pk in suggested if pk in family][:4]
    assert len(to_rate) == 4, "favourite genres lead the suggestions"
    for n, pk in enumerate(to_rate, start=1):
        card = page.locator(f'#onb-films article.card[data-movie="{pk}"]')
        card.get_by_role("button", name="Rate 5 stars", exact=True).click()
        expect(counter).to_have_text(str(n))
        expect(card.locator(".my-rating")).to_have_text("You rated it 5 ★")

    page.fill("#onb-q", "toy story")
    page.locator(".onb-search button").click()
    expect(page).to_have_url(re.compile(r"q=toy(\+|%20)story"))
    toy = page.locator("#onb-films article.card", has_text="Toy Story").first
    toy.get_by_role("button", name="Rate 4.5 stars", exact=True).click()
    expect(counter).to_have_text("5")
    assert page.evaluate("window.__marker") == "still here", "rating and searching did not reload the page"
    expect(page.locator("#onb-progress")).to_have_js_property("value", 5)

    page.get_by_role("button", name="Show my recommendations").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("section#for-you article.card")).to_have_count(12)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"sign-up to recommendations took {elapsed:.0f} s"

    rated_titles = set(Rating.objects.filter(user__username="newfan").values_list("movie__title", flat=True))
    assert len(rated_titles) == 5
    reasons = page.locator("section#for-you .why").all_inner_texts()
    assert len(reasons) == 12 and all(r.startswith("Because you rated") and any(t in r for t in rated_titles) for r in reasons)
    recommended = row_ids(page, "for-you")
    family_share = sum(1 for g in genres_of(recommended) if g & FAMILY) / len(recommended)
    assert family_share >= 0.5, f"recommendations reflect five family-film ratings ({family_share:.0%} family)"


def test_rating_watchlist_and_not_interested_from_cards_without_reload(page: Any, live_server: Any, member: Any) -> None:
    base = live_server.url
    log_in(page, base, member.username)
    page.goto(f"{base}/")
    page.evaluate("window.__marker = 42")
    first, second = row_ids(page, "for-you")[:2]
    card = page.locator(f'section#for-you article.card[data-movie="{first}"]')

    # One click, half stars.
    card.get_by_role("button", name="Rate 3.5 stars", exact=True).click()
    expect(card.locator(".my-rating")).to_have_text("You rated it 3.5 ★")
    expect(card.get_by_role("button", name="Rate 3.5 stars", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#toast")).to_contain_text("Saved: 3.5 stars for")
    assert Rating.objects.get(user=member, movie_id=first).value == 3.5

    # The keyboard alone: each star group is one tab stop (the pressed star), arrow keys move
    # between stars with visible focus, Enter rates, and Tab leaves the group.
    stars = card.locator("button.star")
    assert stars.evaluate_all("els => els.map(b => b.tabIndex)") == [0 if b == 6 else -1 for b in range(10)]
    card.get_by_role("button", name="Rate 3.5 stars", exact=True).focus()
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("({label: document.activeElement.getAttribute('aria-label'), outline: getComputedStyle(document.activeElement).outlineStyle})")
    assert focused == {"label": "Rate 4 stars", "outline": "solid"}
    page.keyboard.press("Enter")
    expect(card.locator(".my-rating")).to_have_text("You rated it 4 ★")
    expect(card.get_by_role("button", name="Rate 4 stars", exact=True)).to_be_focused()  # focus survives the swap
    assert Rating.objects.get(user=member, movie_id=first).value == 4.0
    assert card.locator("button.star").evaluate_all("els => els.map(b => b.tabIndex)") == [0 if b == 7 else -1 for b in range(10)]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('watch-button')"), "Tab leaves the stars"

    # Watchlist toggles in place.
    watch = card.locator("button.watch-button")
    watch.focus()
    page.keyboard.press("Enter")
    expect(watch).to_have_attribute("aria-pressed", "true")
    expect(watch).to_be_focused()
    assert WatchlistItem.objects.filter(user=member, movie_id=first).exists()

    # "Not interested" takes the card out of the row, leaves an Undo with focus on it; Undo brings it back.
    other = page.locator(f'section#for-you article.card[data-movie="{second}"]')
    other.get_by_role("button", name="Not interested").click()
    notice = page.locator(f'section#for-you [data-hidden-movie="{second}"]')
    expect(notice).to_contain_text("won’t be recommended to you again")
    expect(other).to_have_count(0)
    expect(notice.get_by_role("button", name="Undo")).to_be_focused()
    assert NotInterested.objects.filter(user=member, movie_id=second).exists()
    notice.get_by_role("button", name="Undo").click()
    expect(other).to_have_count(1)
    assert not NotInterested.objects.filter(user=member, movie_id=second).exists()
    other.get_by_role("button", name="Not interested").click()
    expect(other).to_have_count(0)
    assert page.evaluate("window.__marker") == 42, "no action reloaded the page"

    # The next page view: the hidden film is gone and the rated one is no longer recommended.
    page.reload()
    after = row_ids(page, "for-you")
    assert second not in after and first not in after and len(after) == 12


def test_plain_words_search_then_switch_to_chinese(page: Any, live_server: Any, member: Any) -> None:
    base = live_server.url
    log_in(page, base, member.username)
    page.goto(f"{base}/")
    page.get_by_role("searchbox", name="Search films or describe what you want").fill("a funny heist film from the 2000s")
    page.keyboard.press("Enter")
    results = page.locator("#ask-results")
    expect(results.get_by_role("heading", name="Films that fit your request")).to_be_visible()
    expect(results.locator(".understood")).to_have_text("Understood: Comedy, Crime, the 2000s")
    ids = [int(x) for x in results.locator("article.card").evaluate_all("els => els.map(e => e.dataset.movie)")]
    assert ids
    years = Movie.objects.filter(pk__in=ids).values_list("year", flat=True)
    assert all(2000 <= y <= 2009 for y in years)
    reasons = results.locator(".why").all_inner_texts()
    assert len(reasons) == len(ids) and all(r.startswith("Matches your request: ") and "the 2000s" in r for r in reasons)

    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(re.compile(r"/search/\?q="))
    expect(page.locator("h1")).to_have_text("“a funny heist film from the 2000s”的搜索结果")
    expect(results.locator(".understood")).to_have_text("理解为： 喜剧、犯罪、2000 年代")
    assert all(r.startswith("符合你的要求：") and "2000 年代" in r for r in results.locator(".why").all_inner_texts())
    expect(page.get_by_role("button", name="评 5 星").first).to_be_visible()
    expect(page.locator("footer")).to_contain_text("本产品使用 TMDB API")

    expect(page.get_by_role("button", name="简体中文")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_screenshot_command_saves_mobile_home_and_detail(browser: Any, live_server: Any, member: Any, tmp_path: Path) -> None:
    newcomer = UserFactory(username="newcomer", onboarded=False)
    detail = family_films()[0].get_absolute_url()
    written = shots.capture(
        live_server.url,
        tmp_path,
        member=shots.Account(member.username, PASSWORD),
        newcomer=shots.Account(newcomer.username, PASSWORD),
        detail_path=detail,
        pages=["home", "detail", "onboarding"],
        langs=["en", "zh-hans"],
        sizes=["mobile"],
        browser=browser,
    )
    names = sorted(p.name for p in written)
    assert names == sorted(f"{page}-{lang}-mobile.png" for page in ("home", "detail", "onboarding") for lang in ("en", "zh-hans"))
    for path in written:
        width, height = _png_size(path)
        assert width == 375 and 600 <= height <= shots.MAX_HEIGHT["mobile"], (path.name, width, height)
        assert 10_000 < path.stat().st_size < 1_000_000
    assert os.path.getsize(tmp_path / "home-en-mobile.png") != os.path.getsize(tmp_path / "home-zh-hans-mobile.png")

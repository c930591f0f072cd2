"""English and Simplified Chinese: the switcher, browser language, translated Python strings
(messages, recommendation reasons, genre names), and a catalogue that covers every source string.

The catalogue is refreshed with (the same arguments as below):

    python manage.py makemessages -l zh_Hans --no-obsolete --ignore=tests --ignore=benchmarks \
        --ignore=scripts --ignore=var --ignore=docs --ignore=mongo_migrations
"""

from __future__ import annotations

import gettext
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from catalog.services import rating_upsert
from recommendations.ask import AskResult, Constraints, ask, item_why
from recommendations.engine import Rec
from recommendations.views import explain_answer, localise_why
from tests.factories import GenreFactory, MovieFactory
from tests.test_site_pages import parse_po

ROOT = Path(__file__).resolve().parents[1]
PO_FILE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MAKEMESSAGES_ARGS = [
    "makemessages", "-l", "zh_Hans", "--no-obsolete",
    "--ignore=tests", "--ignore=benchmarks", "--ignore=scripts", "--ignore=var", "--ignore=docs", "--ignore=mongo_migrations",
]
SKIP_COPY = shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "*.pyc", "*.sqlite3", "*.mo", "screenshots", ".pytest_cache", ".ruff_cache")


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SQLITE_PATH", "MONGODB_URI", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DJANGO_DEBUG": "1", "MOVIEREC_VAR_DIR": str(tmp / "var"), "PYTHONPATH": str(ROOT)})
    return env


def ensure_compiled_messages() -> None:
    """Build locale/*.mo from the .po when missing or stale (scripts/install.sh does it too),
    then drop Django's cached catalogues so this process sees the fresh file."""
    mo = PO_FILE.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= PO_FILE.stat().st_mtime:
        return
    if not shutil.which("msgfmt"):
        pytest.skip("msgfmt (gettext) is not installed, so the Chinese catalogue cannot be compiled")
    subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(PO_FILE)], check=True)
    from django.utils.translation.reloader import translation_file_changed

    translation_file_changed(sender=None, file_path=mo)


@pytest.fixture(autouse=True, scope="module")
def _compiled_messages():
    ensure_compiled_messages()


@pytest.fixture
def in_chinese():
    with translation.override("zh-hans"):
        yield


def test_language_switcher_turns_the_site_chinese_and_back(client, db):
    page = client.get(reverse("catalog:browse")).content.decode()
    assert '<html lang="en"' in page and "Browse films" in page
    assert 'action="/i18n/setlang/"' in page
    assert '<button name="language" value="zh-hans" lang="zh-hans" class="lang-btn" aria-pressed="false">简体中文</button>' in page

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("catalog:browse")})
    assert response.status_code == 302 and response["Location"] == reverse("catalog:browse")
    page = client.get(reverse("catalog:browse")).content.decode()
    assert '<html lang="zh-hans"' in page
    assert "浏览电影" in page and "Browse films" not in page
    assert "电影数据来自 MovieLens" in page and "本产品使用 TMDB API" in page
    assert '<button name="language" value="zh-hans" lang="zh-hans" class="lang-btn" aria-pressed="true">简体中文</button>' in page
    assert "<legend class=\"visually-hidden\">语言</legend>" in page

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Browse films" in client.get(reverse("catalog:browse")).content.decode()


def test_a_chinese_browser_gets_simplified_chinese(client, db):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5").content.decode()
    assert '<html lang="zh-hans"' in page and "注册——只需一分钟" in page


def test_messages_announcements_and_star_labels_are_translated(client, user, db):
    movie = MovieFactory(title="Heat")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    page = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "4.0"}, follow=True).content.decode()
    assert "已保存：《Heat》4 星。" in page
    response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "3.5"}, HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"].isascii(), "non-ASCII text travels as JSON escapes"
    assert json.loads(response["HX-Trigger"])["movierec:announce"] == "已保存：《Heat》3.5 星。"
    fragment = response.content.decode()
    assert 'aria-label="评 3.5 星"' in fragment and "你的评分：3.5 ★" in fragment
    assert "你对《Heat》的评分" in fragment
    hidden = client.post(
        reverse("catalog:toggle_list", args=[movie.pk, "not-interested"]), {"action": "add", "context": "card"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "撤销" in hidden and "不会再向你推荐" in hidden


def test_genre_names_are_shown_in_chinese(client, db):
    MovieFactory(title="Airplane!", genres=[GenreFactory(name="Comedy", slug="comedy"), GenreFactory(name="Children", slug="children")])
    page = client.get(reverse("catalog:browse"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<option value="comedy">喜剧</option>' in page and "儿童" in page
    assert '<p class="genres">儿童 · 喜剧</p>' in page


def test_recommendation_reasons_are_rebuilt_in_the_active_language(user, in_chinese, db):
    a, b, c = MovieFactory(title="Toy Story"), MovieFactory(title="Up"), MovieFactory(title="Coco")
    rating_upsert(user=user, movie=a, value=5.0)
    rating_upsert(user=user, movie=b, value=4.5)
    recs = [
        Rec(c.pk, 1.0, "Because you rated Toy Story 5★ and Up 4.5★", 1, [a.pk, b.pk], c),
        Rec(c.pk, 1.0, "Similar to Toy Story", 1, [a.pk], c),
        Rec(c.pk, 1.0, "Popular on this site", None, [], c),
        Rec(c.pk, 1.0, "Popular with people whose taste is like yours", 1, [], c),
    ]
    assert [r.why for r in localise_why(recs, user)] == [
        "因为你评价了《Toy Story》（5★）和《Up》（4.5★）",
        "与《Toy Story》相似",
        "本站热门",
        "与你口味相近的用户喜爱",
    ]
    with translation.override("en"):
        again = localise_why([Rec(c.pk, 1.0, "Because you rated Toy Story 5★", 1, [a.pk], c)], user)
    assert again[0].why == "Because you rated Toy Story (5★)"


def test_plain_words_explanations_are_translated(in_chinese, db):
    mentioned = MovieFactory(title="Heat")
    film = MovieFactory(title="Ocean's Eleven", year=2001, overview="A charming heist in Las Vegas.", tags=["heist", "casino"],
                        genres=[GenreFactory(name="Crime"), GenreFactory(name="Thriller")])
    wanted = Constraints(genres=["Comedy", "Crime"], excluded_genres=["Horror"], decade=2000, moods=["Comedy"])
    answer = AskResult([], [mentioned], wanted, "", 3)
    understood, note = explain_answer(answer)
    assert understood == "喜剧、犯罪、不要恐怖、2000 年代"
    assert note == ""
    assert item_why(film, answer, "like Heat, a funny heist in a casino") == "类似《Heat》；符合你的要求：犯罪、2000 年代；关于“casino”、“heist”"
    _understood, note = explain_answer(ask(None, "something like Heat"))  # no model yet
    assert note == "推荐模型尚未就绪。"
    with translation.override("en"):
        assert item_why(film, AskResult([], [], Constraints(), "", 3), "something quiet") == "Close to your words"
        assert item_why(film, AskResult([], [], wanted, "", 3), "a 2000s heist") == "Matches your request: Crime, the 2000s; about “heist”"


def test_every_source_string_has_a_chinese_translation(tmp_path):
    """makemessages on a copy of the source merges into a copy of the catalogue: nothing may come out new or fuzzy."""
    if not shutil.which("xgettext") or not shutil.which("msgmerge"):
        pytest.skip("gettext tools are not installed")
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=SKIP_COPY)
    before = {(e.get("msgctxt"), e["msgid"]) for e in parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *MAKEMESSAGES_ARGS, "-v0"], cwd=copy, env=_env(tmp_path), check=True)
    entries = [e for e in parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po") if e["msgid"]]
    untranslated = [e["msgid"] for e in entries if "fuzzy" in e["flags"] or not all(e["msgstr"].values())]
    assert not untranslated, f"run makemessages (see this module's docstring) and translate: {untranslated}"
    after = {(e.get("msgctxt"), e["msgid"]) for e in entries}
    assert after <= before


def test_compilemessages_builds_a_working_catalogue(tmp_path):
    if not shutil.which("msgfmt"):
        pytest.skip("msgfmt (gettext) is not installed")
    work = tmp_path / "proj"
    shutil.copytree(ROOT / "locale", work / "locale")
    env = _env(tmp_path)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "compilemessages", "-l", "zh_Hans", "-v0"], cwd=work, env=env, check=True)
    mo = work / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    with mo.open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)
    assert catalogue.gettext("Recommended for you") == "为你推荐"
    assert catalogue.ngettext("%(n)s film", "%(n)s films", 3) == "%(n)s 部电影"
    assert catalogue.pgettext("genre", "Children") == "儿童"

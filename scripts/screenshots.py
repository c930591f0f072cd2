#!/usr/bin/env python
"""Refresh docs/screenshots/: home, onboarding, film detail and search pages, in English and
Chinese, at mobile (375 px) and desktop widths, taken with Debian's chromium through Playwright.

    .venv/bin/python scripts/screenshots.py                 # throwaway site: starter catalogue + model (~2 min)
    .venv/bin/python scripts/screenshots.py --base-url http://127.0.0.1:8000 \
        --username demo --password '...'                     # a running site with that account

Without --base-url it builds a site in a temporary folder (its own SQLite database, the starter
catalogue, a base embedding model, a few community raters and two demo accounts), serves it
with Django's development server on a free local port, and stops it afterwards. Nothing is
downloaded: chromium comes from Debian (/usr/bin/chromium), never from `playwright install`.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
SIZES = {"mobile": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 860}}
LANGS = ("en", "zh-hans")
MAX_HEIGHT = {"mobile": 2400, "desktop": 1800}  # long pages are cut here: enough to show them, small files
SEARCH_TEXT = {"en": "a funny heist film from the 2000s", "zh-hans": "轻松的犯罪喜剧"}


@dataclass(frozen=True)
class Account:
    username: str
    password: str


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian chromium, with nothing that phones home."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def log_in(page: Any, base_url: str, account: Account) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", account.password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("load")


def _shot(page: Any, path: Path, size: str) -> None:
    """The top of the page, up to MAX_HEIGHT, as a person scrolling would see it.

    The viewport is stretched to the captured height, so lazy images load and the sticky
    onboarding bar sits at the bottom, where a reader sees it.
    """
    page.wait_for_load_state("load")
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT[size])
    page.set_viewport_size({"width": SIZES[size]["width"], "height": height})
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    page.set_viewport_size(SIZES[size])


def capture(
    base_url: str,
    out_dir: Path,
    *,
    member: Account,
    newcomer: Account,
    detail_path: str,
    pages: Iterable[str] = ("home", "onboarding", "detail", "search"),
    langs: Iterable[str] = LANGS,
    sizes: Iterable[str] = SIZES,
    browser: Any = None,
) -> list[Path]:
    """Screenshots named PAGE-LANG-SIZE.png; returns the files written.

    Uses `browser` when given (a Playwright chromium already running), else starts one.
    """
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            chromium = launch_chromium(p)
            try:
                return capture(
                    base_url, out_dir, member=member, newcomer=newcomer, detail_path=detail_path,
                    pages=pages, langs=langs, sizes=sizes, browser=chromium,
                )
            finally:
                chromium.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    pages, langs, sizes = list(pages), list(langs), list(sizes)
    host = base_url.split("//", 1)[-1].split("/", 1)[0].split(":")[0]
    for size in sizes:
        for lang in langs:
            for who in (member, newcomer):
                wanted = [name for name in pages if (name == "onboarding") == (who is newcomer)]
                if not wanted:
                    continue
                context = browser.new_context(viewport=SIZES[size], device_scale_factor=1, locale="en-GB")
                context.add_cookies([{"name": "django_language", "value": lang, "domain": host, "path": "/"}])
                page = context.new_page()
                page.set_default_timeout(120_000)  # the first plain-words search loads the language model
                log_in(page, base_url, who)
                for name in wanted:
                    url = {
                        "home": "/",
                        "onboarding": "/onboarding/?step=rate",
                        "detail": detail_path,
                        "search": "/search/?q=" + urllib.request.quote(SEARCH_TEXT[lang]),
                    }[name]
                    page.goto(base_url + url)
                    path = out_dir / f"{name}-{lang}-{size}.png"
                    _shot(page, path, size)
                    written.append(path)
                context.close()
    return written


# --- a throwaway site ---------------------------------------------------------------


def seed_demo_site(rng_seed: int = 7) -> tuple[Account, Account, str]:
    """Community ratings, a member with a rich profile and a newcomer half-way through onboarding.

    Returns (member, newcomer, detail page path). Needs Django set up and a migrated database.
    """
    from accounts.models import User
    from catalog.models import Genre, Movie
    from catalog.services import rating_upsert

    rng = random.Random(rng_seed)
    password = secrets.token_urlsafe(16)  # throwaway accounts on a throwaway site
    films = list(Movie.objects.order_by("title"))
    by_title = {m.title: m for m in films}
    # A community that has seen a well-known subset (so films have a real rating spread).
    known = rng.sample(films, min(150, len(films)))
    known += [by_title[t] for t in ("Toy Story", "Spirited Away", "The Dark Knight") if t in by_title and by_title[t] not in known]
    for i in range(40):
        user, _ = User.objects.get_or_create(username=f"community{i}", defaults={"onboarded": True, "is_active": False})
        for movie in rng.sample(known, 40):
            base = 3.4 + (0.8 if movie.title in ("Toy Story", "Spirited Away") else 0.0)
            value = min(5.0, max(0.5, round((base + rng.gauss(0, 0.9)) * 2) / 2))
            rating_upsert(user=user, movie=movie, value=value)
    member, _ = User.objects.get_or_create(username="maya", defaults={"onboarded": True, "email": "maya@example.com"})
    member.set_password(password)
    member.onboarded = True
    member.save()
    member.favourite_genres.set(Genre.objects.filter(name__in=["Animation", "Comedy", "Adventure"]))
    loved = ["Toy Story", "Finding Nemo", "Spirited Away", "The Incredibles", "Up", "Ratatouille", "Amélie", "Paddington 2"]
    for offset, title in enumerate(t for t in loved if t in by_title):
        rating_upsert(user=member, movie=by_title[title], value=5.0 if offset % 3 else 4.5)
    for title in ("Saw", "The Texas Chain Saw Massacre"):
        if title in by_title:
            rating_upsert(user=member, movie=by_title[title], value=1.0)
    newcomer, _ = User.objects.get_or_create(username="li.wei", defaults={"email": "li@example.com"})
    newcomer.set_password(password)
    newcomer.onboarded = False
    newcomer.save()
    newcomer.favourite_genres.set(Genre.objects.filter(name__in=["Drama", "Romance"]))
    for title, value in (("Titanic", 4.0), ("Forrest Gump", 4.5)):
        if title in by_title:
            rating_upsert(user=newcomer, movie=by_title[title], value=value)
    detail = by_title.get("Toy Story") or films[0]
    return Account(member.username, password), Account(newcomer.username, password), detail.get_absolute_url()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_site() -> Iterator[tuple[str, Account, Account, str]]:
    var_dir = Path(tempfile.mkdtemp(prefix="movierec-shots-"))
    env = {
        **os.environ,
        "MOVIEREC_VAR_DIR": str(var_dir),
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "movierec.settings",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("SQLITE_PATH", None)
    env.pop("MONGODB_URI", None)
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    server = None
    try:
        print(f"Building a throwaway site in {var_dir} (starter catalogue and a base model; about two minutes)…")
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], check=True, env=env, cwd=ROOT)
        subprocess.run([*manage, "load_starter", "--if-empty"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        subprocess.run([*manage, "embed_films"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        member, newcomer, detail = seed_demo_site()
        port = _free_port()
        server = subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base_url + "/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield base_url, member, newcomer, detail
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(var_dir, ignore_errors=True)


def _check_fonts() -> None:
    try:
        found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        found = ""
    if not found:
        print("warning: no Chinese font found (apt-get install fonts-noto-cjk); Chinese pages will show boxes", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--base-url", help="a running site (default: build a throwaway one)")
    parser.add_argument("--username", help="with --base-url: an account with ratings")
    parser.add_argument("--password")
    parser.add_argument("--newcomer", help="with --base-url: an account still in onboarding (default: --username)")
    parser.add_argument("--detail", default="/films/1/", help="with --base-url: the film page to show")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install chromium", file=sys.stderr)
        return 2
    _check_fonts()
    if args.base_url:
        if not (args.username and args.password):
            parser.error("--base-url needs --username and --password")
        member = Account(args.username, args.password)
        newcomer = Account(args.newcomer or args.username, args.password)
        files = capture(args.base_url.rstrip("/"), args.out, member=member, newcomer=newcomer, detail_path=args.detail)
    else:
        with throwaway_site() as (base_url, member, newcomer, detail):
            files = capture(base_url, args.out, member=member, newcomer=newcomer, detail_path=detail)
    for path in files:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

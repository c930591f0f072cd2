"""Security hardening: production cookie/HSTS settings, CSRF on every form, password
validators, login rate limiting, a configurable admin URL, and no secrets in the repo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import MovieFactory, UserFactory
from tests.test_deploy_check import production_env

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-test-password-1"  # tests.factories.UserFactory


# --- Production settings -------------------------------------------------------
def _production_settings(tmp_path: Path, **extra: str) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SECURE_SSL_REDIRECT', "
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'SECURE_PROXY_SSL_HEADER', "
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', 'AXES_FAILURE_LIMIT', 'AXES_HANDLER')}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_are_secure_by_default(tmp_path):
    values = _production_settings(tmp_path)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    # The database handler without a shared cache; Redis when there is one (all workers share the count).
    assert values["AXES_HANDLER"] == "axes.handlers.database.AxesDatabaseHandler"


def test_production_uses_the_shared_cache_for_login_counts(tmp_path):
    values = _production_settings(tmp_path, REDIS_CACHE_URL="redis://127.0.0.1:1/1")
    assert values["AXES_HANDLER"] == "axes.handlers.cache.AxesCacheHandler"


def test_https_response_carries_hsts_and_secure_cookies(client, user, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, secure=True)
    assert response.status_code == 302
    assert response["Strict-Transport-Security"].startswith("max-age=31536000; includeSubDomains")
    session_cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session_cookie["secure"] and session_cookie["httponly"]


def test_plain_http_is_redirected_to_https_except_the_health_check(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(reverse("catalog:browse"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert any(re.match(p, "api/v1/health/") for p in settings.SECURE_REDIRECT_EXEMPT)


# --- CSRF ------------------------------------------------------------------------
def _form_posts(movie_pk: object) -> list[tuple[str, bool]]:
    """(URL, needs login) for every form the site renders."""
    return [
        (reverse("login"), False),
        (reverse("signup"), False),
        (reverse("password_reset"), False),
        (reverse("set_language"), False),
        (f"/{settings.ADMIN_URL}login/", False),
        (reverse("logout"), True),
        (reverse("password_change"), True),
        (reverse("onboarding"), True),
        (reverse("onboarding_done"), True),
        (reverse("catalog:rate", args=[movie_pk]), True),
        (reverse("catalog:toggle_list", args=[movie_pk, "watchlist"]), True),
        (reverse("catalog:toggle_list", args=[movie_pk, "not-interested"]), True),
    ]


def test_every_form_rejects_a_post_without_csrf_token(db):
    user = UserFactory()
    movie = MovieFactory()
    for url, needs_login in _form_posts(movie.pk):
        client = Client(enforce_csrf_checks=True)
        if needs_login:
            client.force_login(user)
        response = client.post(url, {"username": user.username, "password": PASSWORD, "value": "4.0"})
        assert response.status_code == 403, f"{url} accepted a POST without a CSRF token"


def test_a_post_with_the_csrf_token_goes_through(db):
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post(
        reverse("login"), {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_session_authenticated_api_writes_need_csrf(db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    response = client.post(reverse("v1:my-watchlist"), {"movie": 1}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.content.decode()


def _patterns(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def test_no_site_view_is_csrf_exempt():
    # DRF marks its views csrf_exempt and enforces CSRF itself for session users (test above).
    exempt = [route for route, view in _patterns(get_resolver()) if getattr(view, "csrf_exempt", False)]
    assert [route for route in exempt if not route.startswith("api/")] == []


# --- Passwords -------------------------------------------------------------------
def test_password_validators_are_active():
    names = {v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    } <= names
    for weak in ("short", "password123", "31415926535897"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("violet-harbour-lantern-42")


def test_password_similar_to_username_is_refused(db):
    user = UserFactory(username="margaretta")
    with pytest.raises(ValidationError):
        validate_password("margaretta1", user=user)


# --- Login rate limiting ---------------------------------------------------------
def test_login_is_locked_after_repeated_failures(client, db):
    user = UserFactory()
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert client.post(reverse("login"), {"username": user.username, "password": "wrong"}).status_code == 200
    assert client.post(reverse("login"), {"username": user.username, "password": "wrong"}).status_code == 429
    # Locked: even the right password is refused now.
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Per username + IP: another account from the same address can still log in.
    other = UserFactory()
    assert client.post(reverse("login"), {"username": other.username, "password": PASSWORD}).status_code == 302


def test_a_success_resets_the_failure_count(client, db):
    user = UserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert client.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302
    client.post(reverse("logout"))
    assert client.post(reverse("login"), {"username": user.username, "password": "wrong"}).status_code == 200


def test_api_token_endpoint_is_rate_limited_too(client, db):
    user = UserFactory()
    url = reverse("v1:auth-token")
    statuses = [
        client.post(url, {"username": user.username, "password": "wrong"}, content_type="application/json").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[:-1] == [401] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    response = client.post(url, {"username": user.username, "password": PASSWORD}, content_type="application/json")
    assert response.status_code == 429


def test_admin_login_is_rate_limited_too(client, db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    url = f"/{settings.ADMIN_URL}login/"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {"username": staff.username, "password": "wrong"})
    assert response.status_code == 429


# --- Admin URL -------------------------------------------------------------------
def test_admin_url_comes_from_the_environment(tmp_path):
    code = (
        "import django; django.setup(); from django.urls import reverse, resolve, Resolver404\n"
        "print(reverse('admin:index'))\n"
        "try:\n    print(resolve('/admin/').app_name or '-')\nexcept Resolver404:\n    print('404')\n"
    )
    env = production_env(tmp_path, DJANGO_ADMIN_URL="/staff-door-5f2c/")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    admin_index, old_admin = result.stdout.split()[-2:]
    assert admin_index == "/staff-door-5f2c/"
    assert old_admin != "admin"


# --- No secrets in the repository ------------------------------------------------
SECRET_PATTERNS = {
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\bsk_live_[0-9A-Za-z]{16,}"),
    "credentials in a URL": re.compile(
        r"\b(?:mongodb(?:\+srv)?|redis|rediss|amqp|postgres(?:ql)?|mysql)://[^:/\s@'\"]+:(?P<value>[^@/\s'\"]+)@(?P<host>[^/:\s'\"]+)"
    ),
    "hard-coded secret": re.compile(
        r"""(?i)\b\w*(?:secret|password|passwd|api_?key|access_?key|private_?key)\w*\s*[:=]\s*['"](?P<value>[^'"\s]{16,})['"]"""
    ),
}
# Values that are plainly not secrets: placeholders, test-only keys, well-known defaults,
# and credentials for a server on this machine (test fixtures cannot reach anything else).
PLACEHOLDER = re.compile(r"(?i)change|example|placeholder|dummy|insecure|test|fake|guest|xxx|\$\{|<|%\(|\{\{")
LOCAL_HOST = re.compile(r"^(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])$|example\.(?:com|org|net)$")
SKIP_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".woff", ".woff2", ".npz", ".npy", ".zip", ".gz", ".mo", ".pyc"}


def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_env_files_or_local_secrets_are_tracked():
    names = {path.relative_to(ROOT).as_posix() for path in _repository_files()}
    leaked = sorted(n for n in names if re.search(r"(^|/)\.env($|\.(?!example$))", n) or n.startswith("var/"))
    assert leaked == []


def _secret_findings(text: str) -> list[tuple[int, str]]:
    findings = []
    for label, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            groups = match.groupdict()
            if PLACEHOLDER.search(groups.get("value") or match.group(0)):
                continue
            if LOCAL_HOST.search(groups.get("host") or ""):
                continue
            findings.append((text.count("\n", 0, match.start()) + 1, label))
    return findings


def test_the_scanner_finds_planted_secrets():
    # Built at run time so that this file does not trip its own scan.
    planted = [
        "AKIA" + "Q7" * 8,
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "ghp_" + "a1B2" * 9,
        'DJANGO_SECRET_KEY = "' + "k9#Lm2$vQ8" * 3 + '"',
        "MONGODB_URI=mongodb://app:" + "Zq81mXr44" + "@db.internal.corp/movierec",
    ]
    assert [len(_secret_findings(text)) for text in planted] == [1] * len(planted)
    assert _secret_findings("MONGODB_URI=mongodb://app:" + "Zq81mXr44" + "@127.0.0.1/movierec") == []
    assert _secret_findings('password = "change-me-to-a-long-random-value"') == []


def test_no_secrets_committed():
    findings = []
    for path in _repository_files():
        if path.suffix.lower() in SKIP_SUFFIXES or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        findings += [f"{path.relative_to(ROOT)}:{line}: {label}" for line, label in _secret_findings(text)]
    assert findings == []


def test_behind_a_proxy_only_the_address_our_proxy_appended_counts(tmp_path):
    """A client cannot dodge the lockout by sending its own X-Forwarded-For entries."""
    code = (
        "import django; django.setup(); from django.conf import settings; from django.test import RequestFactory\n"
        "ip = settings.AXES_CLIENT_IP_CALLABLE\n"
        "rf = RequestFactory()\n"
        "for xff in ('198.51.100.23', '1.1.1.1, 2.2.2.2, 198.51.100.23', 'not-an-ip', ''):\n"
        "    print(ip(rf.post('/', HTTP_X_FORWARDED_FOR=xff, REMOTE_ADDR='10.0.0.2')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["198.51.100.23", "198.51.100.23", "10.0.0.2", "10.0.0.2"]

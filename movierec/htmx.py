"""htmx requests that meet a login redirect or a CSRF failure.

Without this, htmx follows a ``@login_required`` redirect inside its request and swaps the whole
login page into a star box or a card, and a stale CSRF token (after logging out or in elsewhere)
gives a generic error on every retry. Plain (no-JavaScript) requests are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _
from django.views.csrf import csrf_failure as django_csrf_failure


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _current_page(request: HttpRequest) -> str:
    """The page the htmx request came from, as a local path (never another site)."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    if parts.netloc and parts.netloc != request.get_host():
        return "/"
    path = parts.path if parts.path.startswith("/") and not parts.path.startswith("//") else "/"
    return path + (f"?{parts.query}" if parts.query else "")


class HtmxLoginRedirectMiddleware:
    """A login redirect answering an htmx request becomes ``HX-Redirect``: the whole page goes to
    the login form, which then comes back to the page the user was on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _is_htmx(request) or response.status_code not in (301, 302):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        redirect = HttpResponse(status=204)
        redirect["HX-Redirect"] = f"{login}?next={quote(_current_page(request), safe='/')}"
        return redirect


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """For htmx, a plain-text 403 the page shows as its error toast; otherwise Django's page."""
    if _is_htmx(request):
        text = _("Your session has changed (you logged in or out elsewhere). Reload the page and try again.")
        return HttpResponse(text, status=403, content_type="text/plain; charset=utf-8")
    return django_csrf_failure(request, reason)

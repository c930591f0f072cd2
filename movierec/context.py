"""Template context shared by every page."""

from django.http import HttpRequest

RATING_STEPS = [x / 2 for x in range(1, 11)]


def site(request: HttpRequest) -> dict:
    return {"rating_steps": RATING_STEPS}

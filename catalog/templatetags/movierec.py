"""Small template helpers for cards, stars and translated genre names."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from django import template
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

register = template.Library()

# MovieLens genre names are data, but a fixed, small set: translate them for display.
GENRE_LABELS = {
    "Action": gettext_lazy("Action"),
    "Adventure": gettext_lazy("Adventure"),
    "Animation": gettext_lazy("Animation"),
    "Children": pgettext_lazy("genre", "Children"),
    "Comedy": gettext_lazy("Comedy"),
    "Crime": gettext_lazy("Crime"),
    "Documentary": gettext_lazy("Documentary"),
    "Drama": gettext_lazy("Drama"),
    "Fantasy": gettext_lazy("Fantasy"),
    "Film-Noir": gettext_lazy("Film-Noir"),
    "Horror": gettext_lazy("Horror"),
    "IMAX": gettext_lazy("IMAX"),
    "Musical": gettext_lazy("Musical"),
    "Mystery": gettext_lazy("Mystery"),
    "Romance": gettext_lazy("Romance"),
    "Sci-Fi": gettext_lazy("Sci-Fi"),
    "Thriller": gettext_lazy("Thriller"),
    "War": gettext_lazy("War"),
    "Western": gettext_lazy("Western"),
    "(no genres listed)": gettext_lazy("(no genres listed)"),
}


def genre_name(name: str) -> str:
    """The genre's name in the active language (unknown genres keep their own name)."""
    label = GENRE_LABELS.get(name)
    return str(label) if label is not None else name


@register.filter
def genre_label(genre: Any) -> str:
    return genre_name(getattr(genre, "name", genre) or "")


@register.filter
def stars(value: float | str | None) -> str:
    """4.0 -> "4", 3.5 -> "3.5"."""
    if value in (None, ""):
        return ""
    return f"{float(value):g}"


@register.filter
def star_label(value: float) -> str:
    number = float(value)
    return gettext("Rate %(n)s stars") % {"n": f"{number:g}"} if number != 1 else gettext("Rate 1 star")


@register.filter
def is_half(value: float) -> bool:
    return float(value) % 1 == 0.5


@register.filter
def get_item(mapping: Mapping | None, key: Any) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def contains(collection: Container | None, item: Any) -> bool:
    return item in collection if collection else False


@register.filter
def names(credits: Any, role: str) -> str:
    return ", ".join(c.person.name for c in credits.all() if c.role == role)

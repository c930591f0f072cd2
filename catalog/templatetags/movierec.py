"""Small template helpers for cards and stars."""

from django import template

register = template.Library()


@register.filter
def is_half(value: float) -> bool:
    return float(value) % 1 == 0.5


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def contains(collection, item) -> bool:
    return item in collection if collection else False


@register.filter
def names(credits, role: str) -> str:
    return ", ".join(c.person.name for c in credits.all() if c.role == role)

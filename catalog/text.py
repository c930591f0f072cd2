"""Text normalisation used for accent- and case-insensitive title search.

We store a folded copy of each title instead of relying on database collation
functions, so the same query works on SQLite and on django-mongodb-backend.
"""

import re
import unicodedata

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace: 'Amélie ' -> 'amelie'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", stripped.casefold()).strip()


def fold_words(text: str) -> str:
    """Like fold, but also drops punctuation, for fuzzy title matching."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", fold(text))).strip()

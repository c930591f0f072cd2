"""The words of a plain-words request, folded as titles and names are, with what the reader needs
besides: which were written with a capital, where punctuation ends a phrase, and which of the
text's tokens each came from (so words can be taken out of the text that is encoded)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Self

from catalog.text import fold_words

PHRASE_END = frozenset(",.;:!?…()[]")
# Words that say nothing about a film: left out of explanations' word matches, of the "is any word
# of the request in the catalogue" check, and of what a negation can refuse.
STOP_WORDS = frozenset(
    [
        "and", "are", "but", "can", "for", "from", "get", "has", "her", "him", "his", "its", "not", "one", "our", "out",
        "she", "the", "too", "was", "who", "why", "how", "you", "any", "all", "watch", "see", "show", "give", "please",
        "about", "after", "also", "before", "being", "film", "films", "have", "into", "like", "more", "movie",
        "movies", "made", "make", "some", "something", "than", "that", "their", "them", "then", "there", "these", "they",
        "this", "those", "very", "want", "were", "what", "when", "where", "which", "while", "with", "would", "your",
    ]
)


@dataclass
class RequestWords:
    tokens: list[str]  # the text split on whitespace, as typed
    words: list[str]  # folded words: the same list as fold_words(text).split()
    capital: list[bool]  # written with a capital letter
    token_of: list[int]  # the token each word comes from
    punct_after: list[str]  # the phrase-ending punctuation ("," ".") right after the word, or ""

    @classmethod
    def of(cls, text: str) -> RequestWords:
        out = cls(text.split(), [], [], [], [])
        for t, token in enumerate(out.tokens):
            folded = fold_words(token).split()
            raw, ends = _pieces(token)
            if len(raw) != len(folded):  # accents written as separate marks: judge the token as a whole
                raw, ends = [token] * len(folded), [""] * len(folded)
                if folded:
                    ends[-1] = _punct(token[-1])
            if not folded and out.punct_after and not out.punct_after[-1]:  # "violence , gore"
                out.punct_after[-1] = _punct(token[0])
            out.words += folded
            out.capital += [piece[:1].isupper() for piece in raw]
            out.token_of += [t] * len(folded)
            out.punct_after += ends
        return out

    def ends_phrase(self, i: int) -> bool:
        """Whether punctuation ends the phrase right after word ``i``."""
        return bool(self.punct_after[i])

    def text_without(self, positions: set[int]) -> str:
        """The text without the tokens whose every word is at one of these positions."""
        drop: dict[int, bool] = {}
        for i, t in enumerate(self.token_of):
            drop[t] = drop.get(t, True) and i in positions
        return " ".join(token for t, token in enumerate(self.tokens) if not drop.get(t, False))


def _pieces(token: str) -> tuple[list[str], list[str]]:
    """A token's word pieces as typed, and the phrase-ending punctuation right after each ("" if none)."""
    pieces = re.findall(r"\w+|[^\w\s]", token)
    words, after = [], []
    for i, piece in enumerate(pieces):
        if re.match(r"\w", piece):
            words.append(piece)
            after.append(_punct(pieces[i + 1]) if i + 1 < len(pieces) else "")
    return words, after


def _punct(char: str) -> str:
    return char if char in PHRASE_END else ""


class CachedIndex:
    """An index built once per process and rebuilt when ``_stamp()``, a cheap query, changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple | None = None

    def get(self) -> Self:
        stamp = self._stamp()
        with self.lock:
            if stamp != self.stamp:
                self._build()
                self.stamp = stamp
        return self

    def _stamp(self) -> tuple:
        raise NotImplementedError

    def _build(self) -> None:
        raise NotImplementedError

"""What a plain-words request says it does not want: "nothing with violence", "no gore",
"without romance", "but no zombies or vampires", "no Adam Sandler".

Each negation runs from its negative word ("no", "not", "without", "don't"...) over filler words
("with", "any", "too") to one or two words, and on over "or", "and" or a comma to more of them
when they clearly continue the list ("no violence and gore", not "no violence and a happy ending").
Of two words the last is what is refused ("graphic violence"), unless it is a word like "scenes"
("sex scenes"). Genre and mood words become excluded genres; named people excluded people; any
other word is refused in the films' titles, tags and overviews, in simple stem forms.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from recommendations.ask_people import CAST_CUES, DIRECTOR_CUES, PersonSpan
from recommendations.ask_words import STOP_WORDS, RequestWords

NEGATIVE_WORDS = frozenset(["no", "not", "without", "nothing", "none", "neither", "nor", "except", "avoid", "dont"])
NEGATIVE_CONTRACTIONS = frozenset(["don", "doesn", "didn", "won", "can", "isn", "aren", "wasn", "shouldn"])  # + "t"
FILLERS = frozenset(
    [
        "with", "any", "anything", "too", "much", "many", "more", "so", "very", "overly", "really", "a", "an", "the",
        "of", "about", "involving", "including", "containing", "want", "like", "need", "stand", "include", "have",
        "has", "having", "lot", "lots", "kind", "sort", "type", "is", "it", "be", "at", "all",
    ]
)
# Words after "no"/"not" that make an idiom, not a refusal: "no matter", "not just", "not bad".
NOT_REFUSALS = frozenset(
    [
        "matter", "longer", "doubt", "idea", "clue", "way", "need", "problem", "just", "only", "sure", "necessarily",
        "exactly", "quite", "bad", "seen", "watched", "yet", "mean", "less", "least", "always", "even", "necessary",
    ]
)
# A refused thing's generic second word: "sex scenes" refuses "sex", "sad ending" refuses "sad".
GENERIC_HEADS = frozenset(
    [
        "scene", "scenes", "stuff", "content", "moment", "moments", "part", "parts", "bit", "bits", "ending", "endings",
        "element", "elements", "theme", "themes", "thing", "things", "plot", "plots", "stories", "story",
    ]
)
LIST_LINKS = frozenset(["or", "and", "nor"])
LIST_FILLERS = frozenset(["no", "without", "nor", "any", "too", "much", "more"])  # "no violence or too much gore"; not "and a twist"
# Words that end a refused phrase without being part of it: "no gore tonight", "no zombies please".
PHRASE_BREAKS = frozenset(["but", "please", "pls", "thanks", "tonight", "today", "though", "thx"])
NEVER_REFUSED = FILLERS | NOT_REFUSALS | NEGATIVE_WORDS | LIST_LINKS | PHRASE_BREAKS | GENERIC_HEADS | STOP_WORDS
STEM_ENDINGS = ("ness", "ence", "ance", "ity", "ent", "ant", "ing", "ies", "ied", "ie", "ed", "es", "ly", "y", "e")
MIN_STEM = 3


@dataclass
class Negations:
    words: list[str] = field(default_factory=list)  # refused words as folded ("violence")
    genre_words: list[str] = field(default_factory=list)  # refused genre and mood words, folded ("sci fi")
    people: list[PersonSpan] = field(default_factory=list)
    positions: set[int] = field(default_factory=set)  # every word of the negations, to keep out of the encoded text


def stem(word: str) -> str:
    """A crude stem, so "violent" finds "violence" and "zombies" "zombie": a plural s and up to two
    common endings off, keeping at least three letters. Used on both sides, so it only has to agree."""
    word = word.removesuffix("s") if len(word) > MIN_STEM else word
    for _round in range(2):
        for ending in STEM_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
                word = word[: -len(ending)]
                break
        else:
            break
    return word


def read_negations(
    request: RequestWords, genre_keys: Collection[str], people: Iterable[PersonSpan] = (), titles: Iterable[range] = ()
) -> Negations:
    """The negations of the request. ``genre_keys`` are the folded genre and mood words (one or two
    words: "sci fi"); a named person is refused as a whole, and a film title ends a negation."""
    people_at = {s.start: s for s in people}
    inside = {i for span in [*titles, *(s.positions for s in people_at.values())] for i in span}
    reader = _Reader(request, genre_keys, people_at, inside)
    i = 0
    while i < len(request.words):
        i = reader.negation_at(i) if reader.negative(i) else i + 1
    return reader.found


class _Reader:
    def __init__(self, request: RequestWords, genre_keys: Collection[str], people: dict[int, PersonSpan], named: set[int]) -> None:
        self.request = request
        self.words = request.words
        self.genre_keys = genre_keys
        self.people = people
        self.named = named  # words of film titles and people's names: never a negative word or filler
        self.found = Negations()

    def negative(self, i: int) -> bool:
        word = self.words[i]
        after_contraction = word == "t" and i > 0 and self.words[i - 1] in NEGATIVE_CONTRACTIONS  # "don't"
        return i not in self.named and (word in NEGATIVE_WORDS or after_contraction)

    def negation_at(self, i: int) -> int:
        """Read the negation starting at word ``i``; returns where reading goes on."""
        end = self._refused_at(self._skip_fillers(i + 1), first=True)
        if end is None:
            return i + 1
        while (more := self._list_goes_on(end)) is not None:
            end = more
        self.found.positions |= set(range(i, end))
        return end

    def _list_goes_on(self, end: int) -> int | None:
        """Past the next refused thing of a list: "no zombies or vampires", "no violence and gore",
        "no gore, violence or swearing" (a comma only when "or"/"and" follows the next item)."""
        if end >= len(self.words) or end in self.named:
            return None
        punct, word = self.request.punct_after[end - 1], self.words[end]
        if not punct and word in LIST_LINKS:
            j = end + 1
            negated = j < len(self.words) and self.words[j] in {"no", "without", "nor"}
            # "no romance and funny" keeps "funny" wanted: after "and" a genre word needs its own "no".
            return self._refused_at(self._skip_fillers(j, LIST_FILLERS), first=False, genres=word != "and" or negated)
        if punct == ",":
            state = (len(self.found.words), len(self.found.genre_words), len(self.found.people))
            nxt = self._refused_at(end, first=False, genres=True)
            if nxt is not None and nxt < len(self.words) and self.words[nxt] in LIST_LINKS:
                return nxt
            self._undo(state)
        return None

    def _refused_at(self, j: int, first: bool, genres: bool = True) -> int | None:
        """Take the refused thing at word ``j``; returns the position after it, or None when there is
        none. Further items of a list (not ``first``) must end a phrase, so the list clearly goes on."""
        if j >= len(self.words) or (j in self.named and j not in self.people):
            return None
        if j in self.people:
            self.found.people.append(self.people[j])
            return self.people[j].end
        size = self._genre_size(j)
        if size:
            if not genres:
                return None
            self.found.genre_words.append(" ".join(self.words[j : j + size]))
            return self._past_generic_head(j + size)
        if not self._refusable(j):
            return None
        pair = self._refusable(j + 1) and not self.request.ends_phrase(j) and self._phrase_ends(j + 2)
        if pair:
            head = j if self.words[j + 1] in GENERIC_HEADS else j + 1  # "sex scenes": sex; "graphic violence": violence
            self.found.words.append(self.words[head])
            return j + 2
        if not (first or self._phrase_ends(j + 1)):
            return None
        self.found.words.append(self.words[j])
        return self._past_generic_head(j + 1)

    def _genre_size(self, j: int) -> int:
        """How many words (two: "sci fi", one: "horror") a genre or mood word at ``j`` has; 0 if none."""
        for size in (2, 1):
            window = self.words[j : j + size]
            if len(window) == size and " ".join(window) in self.genre_keys and not self.named & set(range(j, j + size)):
                return size
        return 0

    def _past_generic_head(self, j: int) -> int:
        """Past a "scenes" or "ending" right after the refused word, which is no more wanted than it."""
        at_head = j < len(self.words) and self.words[j] in GENERIC_HEADS and not self.request.ends_phrase(j - 1)
        return j + 1 if at_head else j

    def _refusable(self, j: int) -> bool:
        """A word a negation can refuse: Latin letters, three or more, not a filler, idiom or stop word."""
        if j >= len(self.words) or j in self.named:
            return False
        word = self.words[j]
        return word.isascii() and word.isalpha() and len(word) >= MIN_STEM and word not in NEVER_REFUSED

    def _phrase_ends(self, j: int) -> bool:
        """Whether a phrase ends before word ``j``: the end, punctuation, a list link or a word that says nothing."""
        if j >= len(self.words) or self.request.ends_phrase(j - 1):
            return True
        word = self.words[j]
        return word in LIST_LINKS or word in PHRASE_BREAKS or word in STOP_WORDS or self.negative(j)

    def _skip_fillers(self, j: int, fillers: frozenset[str] = FILLERS) -> int:
        """Past "with", "any", "too"...; and past "by", "starring"... when a name follows ("nothing by Michael Bay")."""
        while j < len(self.words) and j not in self.named:
            word = self.words[j]
            cue = word in DIRECTOR_CUES | CAST_CUES and (j + 1 in self.people or j + 2 in self.people)
            if word not in fillers and not cue:
                break
            j += 1
        return j

    def _undo(self, state: tuple[int, int, int]) -> None:
        words, genre_words, people = state
        del self.found.words[words:], self.found.genre_words[genre_words:], self.found.people[people:]

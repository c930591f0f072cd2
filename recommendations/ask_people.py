"""People named in a plain-words request: "a film by Christopher Nolan", "something with Tom Hanks".

A full name counts, matched case- and accent-insensitively as Person.name_key folds it. A single
word ("Kubrick") counts only when it reads as a name (capitalised, right after "by", "with",
"starring"... or right before "film(s)"), belongs to one person alone and is not an everyday word
of the catalogue: "a cruise ship" is not Tom Cruise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from catalog.models import Credit, Person
from catalog.text import fold_words
from recommendations.ask_words import CachedIndex, RequestWords

MAX_NAME_WORDS = 6
MIN_SINGLE_NAME = 4  # letters of a one-word name ("Cher" yes, "Ray" no)
DIRECTOR_CUES = frozenset(["by", "directed", "director", "filmmaker"])
CAST_CUES = frozenset(["with", "starring", "featuring", "stars", "actor", "actress"])
FILM_WORDS = frozenset(["film", "films", "movie", "movies"])
LINKS = frozenset(["and", "or", "nor"])  # "with Tom Hanks and Meg Ryan": both are cast


@dataclass(frozen=True)
class NamedPerson:
    """A catalogue person named in a request. Namesakes under one folded name are kept together."""

    name: str  # as the catalogue spells it
    pks: tuple
    role: str = ""  # "director" or "cast": what the request says, else what most of their credits are
    roles: frozenset[str] = frozenset()  # the credits that count ("directed by" counts only those); empty: any


@dataclass(frozen=True)
class PersonSpan:
    start: int
    end: int  # exclusive, in RequestWords.words
    person: NamedPerson
    cue: str  # the role the words before the name give ("director", "cast"), or ""

    @property
    def positions(self) -> range:
        return range(self.start, self.end)


class _PersonIndex(CachedIndex):
    """Folded names -> (name, person ids), rebuilt when people are added or removed."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: dict[str, tuple[str, tuple]] = {}
        self.by_last_word: dict[str, list[str]] = {}  # "nolan" -> ["christopher nolan", ...]
        self.longest = 0

    def _stamp(self) -> tuple:
        # Names are never edited in place by the import; a count and the newest id see additions and removals.
        latest = Person.objects.order_by("-pk").values_list("pk", flat=True).first()
        return Person.objects.count(), latest

    def _build(self) -> None:
        grouped: dict[str, tuple[str, list]] = {}
        for pk, name, key in Person.objects.values_list("pk", "name", "name_key"):
            folded = fold_words(key or name)
            if folded:
                grouped.setdefault(folded, (name, []))[1].append(pk)
        self.by_name = {key: (name, tuple(pks)) for key, (name, pks) in grouped.items()}
        self.by_last_word = {}
        for key in self.by_name:
            self.by_last_word.setdefault(key.split()[-1], []).append(key)
        self.longest = min(MAX_NAME_WORDS, max((len(k.split()) for k in self.by_name), default=0))

    def single(self, word: str) -> str | None:
        """The one name a lone word can stand for (a surname or a one-word name), if only one has it."""
        keys = self.by_last_word.get(word, [])
        return keys[0] if len(keys) == 1 else None


_people = _PersonIndex()


def find_people(request: RequestWords, common: Collection[str], not_names: Collection[str]) -> list[PersonSpan]:
    """Catalogue people named in the request, longest names first, without overlaps.

    ``common`` holds the catalogue's everyday words (as ``latin_words`` gives them); ``not_names``
    words that are never a one-word name here (titles, genres, stop words)."""
    index = _people.get()
    words = request.words
    found: list[PersonSpan] = []
    taken: set[int] = set()
    for size in range(min(index.longest, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            if taken & set(range(start, start + size)):
                continue
            key = _name_at(index, request, start, size, common, not_names)
            if key is None:
                continue
            name, pks = index.by_name[key]
            found.append(PersonSpan(start, start + size, NamedPerson(name, pks), _cue(words, start, found)))
            taken |= set(range(start, start + size))
    return sorted(found, key=lambda s: s.start)


def _name_at(index: _PersonIndex, request: RequestWords, start: int, size: int, common: Collection[str], not_names: Collection[str]) -> str | None:
    words = request.words
    window = words[start : start + size]
    capital = any(request.capital[start : start + size])
    cued = start > 0 and words[start - 1] in DIRECTOR_CUES | CAST_CUES
    if size > 1:
        key = " ".join(window)
        rare = any(w.removesuffix("s") not in common for w in window)
        # "mark strong" in lower case is two words; "Mark Strong", "with mark strong" or "tom hanks" a name.
        return key if key in index.by_name and (capital or cued or rare) else None
    word = window[0]
    before_film = start + 1 < len(words) and (words[start + 1] in FILM_WORDS or words[start + 1 : start + 3] == ["s", "films"])
    ordinary = len(word) < MIN_SINGLE_NAME or word in not_names or word.removesuffix("s") in common
    if ordinary or not capital or not (cued or before_film):
        return None
    return index.single(word)


def _cue(words: list[str], start: int, earlier: list[PersonSpan]) -> str:
    """The role the words right before a name give it; after "and" it is the previous name's."""
    before = words[start - 1] if start else ""
    if before in DIRECTOR_CUES:
        return "director"
    if before in CAST_CUES:
        return "cast"
    if before in LINKS:
        previous = [s for s in earlier if s.end == start - 1]
        return previous[0].cue if previous else ""
    return ""


def with_credits(spans: Iterable[PersonSpan]) -> tuple[list[PersonSpan], dict[object, dict[NamedPerson, set[str]]]]:
    """The spans of people the catalogue credits, each with its role settled, and for every film
    crediting one of them: person -> the roles it credits them in. One query for all of them."""
    spans = list(spans)
    owner = {pk: span.person for span in spans for pk in span.person.pks}
    films: dict[object, dict[NamedPerson, set[str]]] = {}
    roles: dict[NamedPerson, Counter[str]] = {span.person: Counter() for span in spans}
    if owner:
        for movie_id, person_id, role in Credit.objects.filter(person_id__in=list(owner)).values_list("movie_id", "person_id", "role"):
            person = owner[person_id]
            roles[person][role] += 1
            films.setdefault(movie_id, {}).setdefault(person, set()).add(role)
    settled = [replace(s, person=_settle(s.person, s.cue, roles[s.person])) for s in spans if roles[s.person]]
    renamed = {s.person.pks: s.person for s in settled}
    films = {
        movie: {renamed[p.pks]: r for p, r in credited.items() if p.pks in renamed}
        for movie, credited in films.items()
    }
    return settled, films


def _settle(person: NamedPerson, cue: str, credits: Counter[str]) -> NamedPerson:
    """"directed by Clint Eastwood" counts the films he directed; with no cue, or a cue their credits
    do not have ("a film by Tom Hanks"), any credit counts and the role shown is their usual one."""
    if cue and credits[cue]:
        return replace(person, role=cue, roles=frozenset([cue]))
    return replace(person, role=credits.most_common(1)[0][0], roles=frozenset())


def credited_roles(person: NamedPerson, roles: set[str]) -> set[str]:
    """The roles of a film's credits that count for what the request asked of this person."""
    return roles & person.roles if person.roles else roles

"""Plain-words requests: "something like Shawshank, but lighter".

Every answer is a film row from the catalogue: the text is encoded with the
active model, combined with the vectors of films it mentions and the user's
taste, and ranked over the stored film matrix. Nothing is generated.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from catalog.models import Credit, Genre, Movie, Person, attach_genres, tag_strings
from catalog.templatetags.movierec import genre_name
from catalog.text import fold_words
from recommendations import store
from recommendations.ask_negation import FILLERS, Negations, read_negations, stem
from recommendations.ask_people import NamedPerson, PersonSpan, credited_roles, find_people, with_credits
from recommendations.ask_words import STOP_WORDS, CachedIndex, RequestWords
from recommendations.encoders import get_encoder
from recommendations.engine import with_collaborative
from recommendations.ids import as_key
from recommendations.ml.ranking import top_k

logger = logging.getLogger(__name__)

MAX_TEXT = 300
MAX_TITLE_WORDS = 8
GENRE_WORDS: dict[str, str] = {
    "action": "Action", "adventure": "Adventure", "animated": "Animation", "animation": "Animation",
    "cartoon": "Animation", "kids": "Children", "children": "Children", "family": "Children",
    "comedy": "Comedy", "comedies": "Comedy", "funny": "Comedy", "crime": "Crime", "heist": "Crime",
    "documentary": "Documentary", "documentaries": "Documentary", "drama": "Drama", "dramas": "Drama",
    "fantasy": "Fantasy", "noir": "Film-Noir", "horror": "Horror", "scary": "Horror", "musical": "Musical",
    "musicals": "Musical", "mystery": "Mystery", "romance": "Romance", "romantic": "Romance",
    "sci-fi": "Sci-Fi", "scifi": "Sci-Fi", "science fiction": "Sci-Fi", "space": "Sci-Fi",
    "thriller": "Thriller", "thrillers": "Thriller", "war": "War", "western": "Western", "westerns": "Western",
    "喜剧": "Comedy", "恐怖": "Horror", "动画": "Animation", "爱情": "Romance", "科幻": "Sci-Fi",
    "动作": "Action", "犯罪": "Crime", "纪录片": "Documentary", "战争": "War", "悬疑": "Mystery",
}
# Mood words nudge towards a genre without filtering ("like Shawshank, but lighter").
MOOD_WORDS: dict[str, str] = {
    "lighter": "Comedy", "light-hearted": "Comedy", "lighthearted": "Comedy", "feel-good": "Comedy",
    "uplifting": "Comedy", "cheerful": "Comedy", "轻松": "Comedy", "darker": "Thriller", "scarier": "Horror",
    "romantic": "Romance", "epic": "Adventure", "smarter": "Mystery",
}
MOOD_BOOST = 0.08
PERSON_TIER = 10.0  # per named person a film credits: above any similarity (cosine plus boosts stays under 3)
REFUSED_TIER = 1e4  # a film with something refused: below every other, however many named people it credits
NEGATORS = ("not", "no", "without", "except", "but not", "不要", "不是")
DECADE = re.compile(r"\b(?:(19|20)(\d)0s|'?(\d)0s)\b")
# "1980年代" / "80年代": no \b there, digits and CJK are both word characters.
DECADE_ZH = re.compile(r"(?<!\d)(?:(19|20)(\d)0|(\d)0)\s*年代")
# Words after which a film is named: "like Heat", "similar to Alien".
HINT_WORDS = frozenset(["like", "liked", "loved", "love", "enjoyed"])
HINT_PHRASES = (("similar", "to"), ("as", "good", "as"))
MENTION_HINT = re.compile(r"\b(" + "|".join([*sorted(HINT_WORDS), *(" ".join(p) for p in HINT_PHRASES)]) + r")\b", re.I)
TITLE_WORD_FILMS = 3  # a title word names a film only when at most this many titles have it
RARE_TEXT_SHARE = 0.002  # ... and at most this share of the films' texts (at least TITLE_WORD_FILMS)


@dataclass
class Constraints:
    genres: list[str] = field(default_factory=list)
    excluded_genres: list[str] = field(default_factory=list)
    decade: int | None = None
    moods: list[str] = field(default_factory=list)
    people: list[NamedPerson] = field(default_factory=list)  # films crediting them come first
    excluded_people: list[NamedPerson] = field(default_factory=list)
    excluded_words: list[str] = field(default_factory=list)  # "nothing with violence": films with it come last

    def describe(self) -> str:
        """What was understood, in the active language: "Comedy, not Horror, the 1990s, directed by
        Christopher Nolan, without “violence”"; "" when nothing was."""
        parts = [genre_name(g) for g in self.genres]
        parts += [_("not %(genre)s") % {"genre": genre_name(g)} for g in self.excluded_genres]
        if self.decade:
            parts.append(_("the %(decade)ss") % {"decade": self.decade})
        parts += [_("leaning %(genre)s") % {"genre": genre_name(g)} for g in self.moods if g not in self.genres]
        parts += [person_phrase(p, p.role) for p in self.people]
        parts += [_("without %(what)s") % {"what": p.name} for p in self.excluded_people]
        if self.excluded_words:
            parts.append(_("without %(what)s") % {"what": quoted_words(self.excluded_words)})
        return _(", ").join(parts)


def person_phrase(person: NamedPerson, role: str) -> str:
    """"directed by Christopher Nolan" or "with Tom Hanks"."""
    if role == Credit.Role.DIRECTOR:
        return _("directed by %(name)s") % {"name": person.name}
    return _("with %(name)s") % {"name": person.name}


def quoted_words(words: list[str]) -> str:
    return _(", ").join(pgettext("quoted word", "“%(word)s”") % {"word": w} for w in words)


@dataclass
class AskItem:
    movie: Movie
    score: float
    why: str


@dataclass
class AskResult:
    items: list[AskItem]
    mentioned: list[Movie]
    constraints: Constraints
    note: str
    version_id: int | None
    unknown_words: bool = False  # nothing recognised and no word of the request is in the catalogue
    credits: dict = field(default_factory=dict)  # film -> named person -> the roles it credits them in
    refused: dict = field(default_factory=dict)  # film -> what it has that the request refuses ("“violence”")


# Genre and mood words as the request's folded words read them ("sci fi"), for negations.
GENRE_KEYS: dict[str, str] = {fold_words(w): g for w, g in {**MOOD_WORDS, **GENRE_WORDS}.items()}


def parse_constraints(text: str, people: Sequence[PersonSpan] = (), titles: Sequence[range] = ()) -> Constraints:
    """Genres, decade, moods and what the text refuses. ``people`` and ``titles`` are the names and
    film titles found in it (see ``ask``): a name after "no" is refused whole, a title is not refused."""
    return _parse(text, read_negations(RequestWords.of(text), GENRE_KEYS, people, titles), people)


def _parse(text: str, negations: Negations, people: Sequence[PersonSpan]) -> Constraints:
    lowered = " " + text.lower() + " "
    found = Constraints()
    for word, genre in GENRE_WORDS.items():
        for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])" if word.isascii() else re.escape(word), lowered):
            before = lowered[max(0, match.start() - 12) : match.start()]
            negated = any(re.search(rf"(?:^|\W){re.escape(n)}\W*(?:\w+\W+)?$", before) for n in NEGATORS)
            target = found.excluded_genres if negated else found.genres
            if genre not in target:
                target.append(genre)
    # A refused mood word refuses its genre, as a refused genre word does ("nothing scary": no Horror).
    found.excluded_genres += [g for g in dict.fromkeys(GENRE_KEYS[w] for w in negations.genre_words) if g not in found.excluded_genres]
    found.genres = [g for g in found.genres if g not in found.excluded_genres]
    for word, genre in MOOD_WORDS.items():
        # Whole words in Latin script ("epicenter" is not "epic"); Chinese has no spaces to match.
        present = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", lowered) if word.isascii() else word in lowered
        if present and genre not in found.moods and genre not in found.excluded_genres:
            found.moods.append(genre)
    refused = {s.start for s in negations.people}
    found.people = list(dict.fromkeys(s.person for s in people if s.start not in refused))
    found.excluded_people = list(dict.fromkeys(s.person for s in people if s.start in refused))
    found.excluded_words = list(dict.fromkeys(negations.words))
    found.decade = _decade(lowered)
    return found


def _decade(lowered: str) -> int | None:
    match = DECADE.search(lowered) or DECADE_ZH.search(lowered)
    if not match:
        return None
    if match.group(1):
        return int(match.group(1) + match.group(2) + "0")
    digit = int(match.group(3))
    return 2000 + digit * 10 if digit <= 2 else 1900 + digit * 10


class _TitleIndex(CachedIndex):
    """Folded titles -> [(movie id, year, popularity)] and the words of the films' texts, rebuilt
    when the catalogue changes."""

    def __init__(self) -> None:
        super().__init__()
        self.by_title: dict[str, list[tuple[int, int | None, int]]] = {}
        self.by_len: dict[int, list[str]] = {}
        self.words: set[str] = set()  # every word of the catalogue's titles, overviews, tags, genres and people
        # A rare title word -> its films: "like Shawshank" names The Shawshank Redemption.
        self.by_title_word: dict[str, list[tuple[int, int | None, int]]] = {}
        self.common: set[str] = set()  # words in the texts of many films ("love", "night", "movie")
        self.films_with_stem: dict[str, list] = {}  # stem of a word of a film's title, tags or overview -> films

    def _stamp(self) -> tuple:
        latest = Movie.objects.order_by("-updated_at").values_list("updated_at", flat=True).first()
        return Movie.objects.count(), latest

    def films_with(self, words: Sequence[str]) -> set:
        """Films whose title, tags or overview have one of these words, in any simple form ("violent" for "violence")."""
        return {pk for w in words for pk in self.films_with_stem.get(stem(w.removesuffix("s")), ())}

    def has_rare_word(self, window: str) -> bool:
        """Whether a title window holds a word that few films' texts have ("shawshank", not "disaster")."""
        return any(w not in self.common for w in latin_words(window))

    def _build(self) -> None:
        by_title: dict[str, list[tuple[int, int | None, int]]] = {}
        by_title_word: dict[str, list[tuple[int, int | None, int]]] = {}
        films_with_stem: dict[str, list] = {}
        stems: dict[str, str] = {}  # each word is stemmed once, not once per film
        words: set[str] = set()
        texts_with: Counter[str] = Counter()  # films whose text has the word
        films = 0
        for pk, title, year, count, overview, tags in Movie.objects.values_list("pk", "title", "year", "rating_count", "overview", "tags"):
            own = latin_words(" ".join([title, overview, *tag_strings(tags)]))
            films += 1
            texts_with.update(own)
            words |= own
            stems.update((w, stem(w)) for w in own - stems.keys())
            for word_stem in {stems[w] for w in own}:
                films_with_stem.setdefault(word_stem, []).append(pk)
            for word in latin_words(title, min_length=4):
                by_title_word.setdefault(word, []).append((pk, year, count))
            key = fold_words(title)
            for variant in {key, re.sub(r"^(the|a|an) ", "", key)}:
                if variant:
                    by_title.setdefault(variant, []).append((pk, year, count))
        for name in [*Genre.objects.values_list("name", flat=True), *Person.objects.values_list("name", flat=True)]:
            words |= latin_words(name)
        self.words = words
        # Rare: in at most TITLE_WORD_FILMS titles, and in the texts of few films (not "love", "night").
        rare_texts = max(TITLE_WORD_FILMS, int(RARE_TEXT_SHARE * films))
        self.by_title_word = {
            w: entries for w, entries in by_title_word.items() if len(entries) <= TITLE_WORD_FILMS and texts_with[w] <= rare_texts
        }
        self.common = {w for w, n in texts_with.items() if n > rare_texts}
        self.films_with_stem = films_with_stem
        self.by_title = by_title
        self.by_len = {}
        for key in by_title:
            self.by_len.setdefault(len(key.split()), []).append(key)


_index = _TitleIndex()


def latin_words(text: str, min_length: int = 3) -> set[str]:
    """Folded Latin-script words of ``min_length`` letters or more but the stop words, a plural "s" dropped."""
    found = re.findall(rf"[a-z]{{{min_length},}}", fold_words(text))
    return {w.removesuffix("s") for w in found if w not in STOP_WORDS}


def words_unknown(text: str) -> bool:
    """True when the request has Latin-script words and none of them occurs anywhere in the
    catalogue. Other scripts are not judged: MiniLM's vocabulary is English, and the request may
    still be understood through its parsed words."""
    if re.search(r"[^\x00-\u024f\s\d\W]", text):
        return False
    asked = latin_words(text)
    return bool(asked) and not asked & _index.get().words


Candidates = list[tuple[Any, int | None, int]]  # (movie id, year, popularity) of the films a title names


@dataclass
class Mentions:
    """What a request names: films, and people outside film titles, with their credits."""

    films: list = field(default_factory=list)
    people: list[PersonSpan] = field(default_factory=list)  # people the catalogue credits, roles settled
    credits: dict[Any, dict[NamedPerson, set[str]]] = field(default_factory=dict)  # film -> named person -> roles
    missing: list[tuple[str, list[NamedPerson]]] = field(default_factory=list)  # ("Parasite", [Bong Joon-ho]): not here
    namesakes: set = field(default_factory=set)  # films only titled like a missing one
    title_spans: list[range] = field(default_factory=list)
    negations: Negations = field(default_factory=Negations)


def find_mentions(text: str) -> list[int]:
    """Catalogue films named in the text, by exact or fuzzy match on whole-word windows.

    A title made of everyday words ("Disaster Movie", "For the Birds") counts only when it reads
    as a name: right after "like", "loved" etc., right before "by" and a person, or capitalised.
    A fuzzy match (a typo) must share a word of four letters or more with the title: "the kids"
    is not "the birds". People named pick among films of the same title (see ``read_mentions``).
    """
    return read_mentions(RequestWords.of(text), text).films


def read_mentions(request: RequestWords, text: str) -> Mentions:
    """The films and people a request names. A name inside a title is part of it ("Being John
    Malkovich"), unless the words before it make it a person ("directed by Ed Wood"). Of films
    sharing a title, one crediting a named person is taken; a title the request gives a person
    ("Parasite by Bong Joon-ho") is not taken for a film whose credits name others."""
    index = _index.get()
    people = find_people(request, index.common, _NotNames(index))
    hits = _title_hits(request, text, index, people)
    title_spans = [span for _candidates, span in hits]
    in_titles = {i for span in title_spans for i in span}
    people = [s for s in people if not in_titles & set(s.positions)]
    negations = read_negations(request, GENRE_KEYS, people, title_spans)
    people, credits = with_credits(people)
    found = Mentions(people=people, credits=credits, title_spans=title_spans, negations=negations)
    refused = {s.start for s in negations.people}
    # Of films sharing a title, one crediting a person refused ("no Burt Reynolds") is not preferred.
    preferred = {pk for pk, credited in credits.items() if any(s.person in credited for s in people if s.start not in refused)}
    years = [int(y) for y in re.findall(r"\b(18\d\d|19\d\d|20\d\d)\b", text)]
    for candidates, span in hits:
        attached = _attached(request.words, span, people)
        chosen = _choose(candidates, years, attached, preferred)
        if chosen is None:
            title = Movie.objects.filter(pk=_pick(candidates, years)).values_list("title", flat=True).first() or ""
            found.missing.append((title, [s.person for s in attached]))
            found.namesakes |= {c[0] for c in candidates}
        else:
            found.films.append(chosen)
    found.films = list(dict.fromkeys(found.films))
    return found


class _NotNames:
    """Words never taken for a one-word name: a film's one-word title, a genre word, a stop word."""

    def __init__(self, index: _TitleIndex) -> None:
        self.titles = index.by_title

    def __contains__(self, word: object) -> bool:
        return word in STOP_WORDS or word in FILLERS or word in GENRE_KEYS or word in self.titles


def _title_hits(request: RequestWords, text: str, index: _TitleIndex, people: list[PersonSpan]) -> list[tuple[Candidates, range]]:
    words, raw_words = request.words, request.tokens
    after = _after_hint(words)
    hinted = bool(after) or bool(MENTION_HINT.search(text))
    title_ends, title_starts = _next_to_people(words, people)
    used = {i for s in people if s.cue for i in s.positions}  # "directed by Ed Wood" is the man, not the film
    found: list[tuple[Candidates, range]] = []
    for size in range(min(MAX_TITLE_WORDS, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            span = range(start, start + size)
            if used & set(span):
                continue
            window = " ".join(words[start : start + size])
            candidates = index.by_title.get(window)
            if candidates is None and size >= 2 and len(window) >= 8:
                close = difflib.get_close_matches(window, index.by_len.get(size, []), n=1, cutoff=0.88)
                if close and _shares_a_long_word(window, close[0]):
                    candidates = index.by_title.get(close[0])
            if not candidates:
                continue
            named = start in after or (hinted and _capitalised(raw_words, words[start]))
            given = start + size - 1 in title_ends or start in title_starts  # "Parasite by Bong Joon-ho"
            named = named or (given and not _says_nothing(window))
            if size == 1 and not named:
                continue
            if size >= 2 and not (named or _capitalised(raw_words, words[start]) or index.has_rare_word(window)):
                continue
            found.append((candidates, span))
            used |= set(span)
    # A rare word of a longer title, right after "like" etc.: "like Shawshank, but lighter".
    names = {i for s in people for i in s.positions}
    for i, word in enumerate(words):
        if i not in used and i not in names and i in after and word in index.by_title_word:
            found.append((index.by_title_word[word], range(i, i + 1)))
            used.add(i)
    return found


def _next_to_people(words: list[str], people: list[PersonSpan]) -> tuple[set[int], set[int]]:
    """Where a title given to a person would end ("Parasite | by Bong Joon-ho") and start ("Bong Joon-ho's | Parasite")."""
    ends, starts = set(), set()
    for s in people:
        if s.start >= 2 and words[s.start - 1] == "by":
            ends.add(s.start - 3 if words[s.start - 2] == "directed" else s.start - 2)
        if words[s.end : s.end + 1] == ["s"]:
            starts.add(s.end + 1)
    return ends, starts


def _attached(words: list[str], span: range, people: list[PersonSpan]) -> list[PersonSpan]:
    """The people a title is given to: "Parasite by Bong Joon-ho", "... directed by ...", "Bong Joon-ho's Parasite"."""
    after = words[span.stop : span.stop + 2]
    starts = {span.stop + 1} if after[:1] == ["by"] else {span.stop + 2} if after == ["directed", "by"] else set()
    return [s for s in people if s.start in starts or (s.end == span.start - 1 and words[s.end] == "s")]


def _choose(candidates: Candidates, years: list[int], attached: list[PersonSpan], preferred: set) -> Any | None:
    """The film meant among those of a title, ``preferred`` (crediting a person named) first; None
    when the title is given to people who made none of them."""
    crediting = [c for c in candidates if c[0] in preferred]
    if crediting:
        return _pick(crediting, years)
    if not attached:
        return _pick(candidates, years)
    # A film with credits, none of them the person named, is a namesake (the 1982 Parasite, not Bong Joon-ho's).
    credited = set(Credit.objects.filter(movie_id__in=[c[0] for c in candidates]).values_list("movie_id", flat=True))
    unknown = [c for c in candidates if c[0] not in credited]
    return _pick(unknown, years) if unknown else None


def _says_nothing(window: str) -> bool:
    """A window of words that cannot be a title given to a person: "a film by", "a comedy by"."""
    return all(w in STOP_WORDS or w in FILLERS or w in GENRE_KEYS for w in window.split())


def without_titles(text: str, titles: list[str]) -> str:
    """The request without the words of the films it names ("like Heat, but funnier" → "like , but funnier")."""
    if not titles:
        return text
    title_words = {w for title in titles for w in fold_words(title).split()}

    def in_a_title(token: str) -> bool:
        folded = fold_words(token).split()
        return bool(folded) and all(w in title_words for w in folded)

    return " ".join(token for token in text.split() if not in_a_title(token))


def _after_hint(words: list[str]) -> set[int]:
    """Positions of the words right after "like", "loved", "similar to", "as good as"..."""
    out = set()
    for i in range(1, len(words)):
        if words[i - 1] in HINT_WORDS or any(tuple(words[max(0, i - len(p)) : i]) == p for p in HINT_PHRASES):
            out.add(i)
    return out


def _capitalised(raw_words: list[str], word: str) -> bool:
    """Written with a capital, and not as the request's first word."""
    return len(word) >= 3 and any(fold_words(w) == word and w[:1].isupper() for w in raw_words[1:])


def _shares_a_long_word(window: str, title: str) -> bool:
    return bool({w for w in window.split() if len(w) >= 4} & set(title.split()))


def _pick(candidates: Candidates, years: list[int]) -> Any:
    for pk, year, _count in candidates:
        if year in years:
            return pk
    return max(candidates, key=lambda c: c[2])[0]


def warm_up() -> bool:
    """Load the active version's request encoder and run it once (the first call traces the
    graph), so the first plain-words request is served at the speed of the others. Returns
    whether it did; never raises, since it runs beside a web worker's first requests."""
    from django.conf import settings

    from recommendations.models import ModelVersion

    if not settings.MOVIEREC.get("WARM_ENCODER", True):
        return False
    try:
        bundle = store.active_bundle()
        if bundle is None:
            return False
        started = time.perf_counter()
        version = ModelVersion.objects.get(pk=bundle.version_id)
        get_encoder(version.encoder_path).embed(["a film to warm up the encoder"])
        logger.info("request encoder of v%s ready in %.1f s", version.pk, time.perf_counter() - started)
        return True
    except Exception:
        logger.exception("warming up the request encoder failed; the first request will load it")
        return False


def ask(user, text: str, k: int = 10) -> AskResult:
    text = (text or "").strip()[:MAX_TEXT]
    if not text:
        return AskResult([], [], Constraints(), _("Tell us what you feel like watching."), store.active_version_id())
    bundle = store.active_bundle()
    if bundle is None:
        return AskResult([], [], parse_constraints(text), _("The recommendation model is not ready yet."), None)
    request = RequestWords.of(text)
    mentions = read_mentions(request, text)
    constraints = _parse(text, mentions.negations, mentions.people)
    mentioned = list(Movie.objects.filter(pk__in=mentions.films))
    wanted_text = request.text_without(mentions.negations.positions)  # "nothing with violence" does not ask for violence
    query, seen = _query(bundle, user, wanted_text, mentioned, [title for title, _people in mentions.missing])
    scores = bundle.matrix @ query
    if mentioned:  # "like Heat": also what people who liked Heat liked, as the film page's similar films
        named_rows = np.array([bundle.row_of[m.pk] for m in mentioned if m.pk in bundle.row_of], dtype=np.int64)
        scores = with_collaborative(bundle, [m.pk for m in mentioned], scores, named_rows)
    if constraints.moods:
        boosted = set(Movie.objects.filter(genres__name__in=constraints.moods).values_list("pk", flat=True))
        rows_boosted = [bundle.row_of[m] for m in boosted if m in bundle.row_of]
        scores = scores.copy()
        scores[rows_boosted] += MOOD_BOOST
    refused = _refused(constraints, mentions.credits)
    rank = _rank(bundle, scores, constraints.people, mentions.credits, refused)
    allowed = _allowed_rows(bundle, constraints, k)
    # A namesake of a film the request gives to someone else is not offered in its place.
    exclude_ids = set(seen) | {m.pk for m in mentioned} | mentions.namesakes
    exclude = np.array([bundle.row_of[m] for m in exclude_ids if m in bundle.row_of], dtype=np.int64)
    if allowed is not None:
        rank = np.where(allowed, rank, -np.inf)
    top, top_rank = top_k(rank, k, exclude)
    top = top[np.isfinite(top_rank)]
    films = Movie.objects.in_bulk([as_key(bundle.movie_ids[r]) for r in top])
    attach_genres(films.values())
    understood = mentioned or mentions.missing or constraints.describe() or constraints.moods
    if not understood and words_unknown(text):
        # Nothing understood and no word known: any "match" would be arbitrary, so say so.
        note = _("None of these words appear in the catalogue: try a title, a genre or a few words about the story.")
        return AskResult([], [], constraints, note, bundle.version_id, unknown_words=True)
    # The score shown is the similarity; the order also has the named people's and refused films' tiers.
    items = [AskItem(films[as_key(bundle.movie_ids[r])], float(scores[r]), "") for r in top if as_key(bundle.movie_ids[r]) in films]
    result = AskResult(items, mentioned, constraints, "", bundle.version_id, credits=mentions.credits, refused=refused)
    result.note = _note(result, mentions.missing)
    for item in items:  # each film's own reasons: a genre the film lacks is not claimed for it
        item.why = item_why(item.movie, result, wanted_text)
    return result


def _query(bundle: store.Bundle, user, text: str, mentioned: list[Movie], missing_titles: list[str]) -> tuple[np.ndarray, list]:
    """The request's vector (its words, the films it names, the user's taste) and the films the user has seen."""
    from recommendations.models import ModelVersion

    version = ModelVersion.objects.get(pk=bundle.version_id)
    # The named films count through their own vectors; their title words left in the text pulled
    # in namesakes ("Blade Runner 2049 but funnier" gave Blade, Runner Runner). The words of a title
    # the catalogue does not have by the person named would pull in its namesake.
    rows = [bundle.row_of[m.pk] for m in mentioned if m.pk in bundle.row_of]
    rest = without_titles(text, ([m.title for m in mentioned] if rows else []) + missing_titles)
    words_left = bool(latin_words(rest)) or not rest.isascii()  # other scripts are not judged
    parts = []
    if words_left or not rows:  # nothing but the named films: their vectors say it all
        parts.append(get_encoder(version.encoder_path).embed([rest])[0])
    if rows:
        mention_vec = bundle.matrix[rows].mean(axis=0)
        parts.append(1.5 * mention_vec / (np.linalg.norm(mention_vec) or 1.0))
    seen: list = []
    if user is not None and user.is_authenticated:
        from recommendations.engine import taste, user_profile

        profile = user_profile(user)
        vec, _rows, _w = taste(bundle, profile)
        if np.any(vec):
            parts.append(0.5 * vec)
        seen = [*profile.movie_ids.tolist(), *profile.hidden_ids.tolist()]
    query = np.sum(parts, axis=0)
    return query / (np.linalg.norm(query) or 1.0), seen


def _refused(constraints: Constraints, credits: dict[Any, dict[NamedPerson, set[str]]]) -> dict[Any, list[str]]:
    """Films with something the request refuses -> what ("“violence”", "Adam Sandler")."""
    out: dict[Any, list[str]] = {}
    if constraints.excluded_words:
        index = _index.get()
        for word in constraints.excluded_words:
            for pk in index.films_with([word]):
                out.setdefault(pk, []).append(quoted_words([word]))
    for person in constraints.excluded_people:
        for pk, credited in credits.items():
            if person in credited:
                out.setdefault(pk, []).append(person.name)
    return out


def _rank(bundle: store.Bundle, scores: np.ndarray, people: list[NamedPerson], credits: dict, refused: dict) -> np.ndarray:
    """What the answer is ordered by: films crediting the named people first (crediting all of them
    before some), then the rest by similarity, which fills the answer up when they made fewer than
    k films. Films with something the request refuses are pushed below every other film rather
    than dropped: with k other films they are left out, with fewer the answer still has k films."""
    rank = scores.astype(np.float64)
    for pk, credited in credits.items():
        row = bundle.row_of.get(pk)
        n = sum(1 for p in people if credited_roles(p, credited.get(p, set())))
        if row is not None and n:
            rank[row] += PERSON_TIER * n
    rank[[bundle.row_of[pk] for pk in refused if pk in bundle.row_of]] -= REFUSED_TIER
    return rank


def _note(answer: AskResult, missing: list[tuple[str, list[NamedPerson]]]) -> str:
    """Titles given to people who made no film of that title here; no title at all; what was left out."""
    sentences = [
        _("No film titled “%(title)s” by %(people)s is in the catalogue; answered from the rest of your request.")
        % {"title": title, "people": _(", ").join(p.name for p in people)}
        for title, people in missing
    ]
    if not answer.mentioned and not missing:
        sentences.append(_("No film title recognised in your request; answered from your words alone."))
    if answer.refused:
        constraints = answer.constraints
        refused = [quoted_words(constraints.excluded_words)] if constraints.excluded_words else []
        what = _(", ").join(refused + [p.name for p in constraints.excluded_people])
        if any(item.movie.pk in answer.refused for item in answer.items):
            sentences.append(_("Too few films are without %(what)s: those with it come last.") % {"what": what})
        else:
            sentences.append(_("Left out films with %(what)s.") % {"what": what})
    return " ".join(sentences)


def item_why(movie: Movie, answer: AskResult, request_text: str) -> str:
    """Why this film fits the plain-words request: the films it is like, the people named it
    credits, the parts of the request it matches (genres, decade, mood), request words found in
    its own text, and what it has that the request refused (when too few films are without it)."""
    constraints = answer.constraints
    genres = {g.name for g in movie.genres.all()}
    matched = [genre_name(g) for g in constraints.genres if g in genres]
    if constraints.decade and movie.year and constraints.decade <= movie.year <= constraints.decade + 9:
        matched.append(_("the %(decade)ss") % {"decade": constraints.decade})
    matched += [_("leaning %(genre)s") % {"genre": genre_name(g)} for g in constraints.moods if g in genres and g not in constraints.genres]
    bits = []
    if answer.mentioned:
        titles = _(", ").join(pgettext("quoted film title", "%(title)s") % {"title": m.title} for m in answer.mentioned)
        bits.append(_("like %(titles)s") % {"titles": titles})
    bits += _credited(movie, answer)
    if matched:
        bits.append(_("matches your request: %(what)s") % {"what": _(", ").join(matched)})
    # Four letters or more: a shared "war" or "man" explains little. A refused word is no reason,
    # nor is a named person's name in an overview ("Woody" in Toy Story for "a film by Woody Allen").
    refused = {stem(w.removesuffix("s")) for w in constraints.excluded_words}
    names = latin_words(" ".join(p.name for p in [*constraints.people, *constraints.excluded_people]))
    asked = {w for w in latin_words(request_text, min_length=4) - names if stem(w) not in refused}
    own = latin_words(" ".join([movie.title, movie.overview, *movie.tag_list]), min_length=4)
    shared = [w for w in sorted(asked & own) if w not in {g.lower() for g in genres}][:3]
    if shared:
        bits.append(_("about %(words)s") % {"words": quoted_words(shared)})
    if movie.pk in answer.refused:
        bits.append(_("though with %(what)s") % {"what": _(", ").join(answer.refused[movie.pk])})
    return capfirst(_("; ").join(bits)) if bits else _("Close to your words")


def _credited(movie: Movie, answer: AskResult) -> list[str]:
    """"directed by Christopher Nolan", "with Tom Hanks": the named people this film credits, in the role it does."""
    credited = answer.credits.get(movie.pk, {})
    out = []
    for person in answer.constraints.people:
        roles = credited_roles(person, credited.get(person, set()))
        if roles:
            out.append(person_phrase(person, person.role if person.role in roles else min(roles)))
    return out


def _allowed_rows(bundle: store.Bundle, constraints: Constraints, k: int) -> np.ndarray | None:
    """Films the constraints allow. Several genres ("a funny heist film": Comedy and Crime) mean
    films of all of them; only when fewer than ``k`` such films exist, films of any of them."""
    if not (constraints.genres or constraints.excluded_genres or constraints.decade):
        return None
    qs = Movie.objects.all()
    if constraints.decade:
        qs = qs.filter(year__gte=constraints.decade, year__lte=constraints.decade + 9)
    ids = set(qs.values_list("pk", flat=True))
    if constraints.genres:
        wanted = list(Genre.objects.filter(name__in=constraints.genres).values_list("pk", flat=True))
        links = Movie.genres.through.objects.filter(genre_id__in=wanted).order_by().values_list("movie_id", flat=True)
        matches = Counter(m for m in links if m in ids)
        every = {m for m, n in matches.items() if n == len(wanted)}
        ids = every if len(every) >= k else set(matches)
    if constraints.excluded_genres:
        ids -= set(Movie.objects.filter(genres__name__in=constraints.excluded_genres).values_list("pk", flat=True))
    mask = np.zeros(len(bundle.movie_ids), dtype=bool)
    rows = [bundle.row_of[m] for m in ids if m in bundle.row_of]
    mask[rows] = True
    return mask




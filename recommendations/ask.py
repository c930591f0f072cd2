"""Plain-words requests: "something like Shawshank, but lighter".

Every answer is a film row from the catalogue: the text is encoded with the
active model, combined with the vectors of films it mentions and the user's
taste, and ranked over the stored film matrix. Nothing is generated.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from catalog.models import Genre, Movie, Person, attach_genres, tag_strings
from catalog.templatetags.movierec import genre_name
from catalog.text import fold_words
from recommendations import store
from recommendations.encoders import get_encoder
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

    def describe(self) -> str:
        parts = list(self.genres)
        parts += [f"not {g}" for g in self.excluded_genres]
        if self.decade:
            parts.append(f"{self.decade}s")
        parts += [f"leaning {g.lower()}" for g in self.moods]
        return ", ".join(parts)


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


def parse_constraints(text: str) -> Constraints:
    lowered = " " + text.lower() + " "
    found = Constraints()
    for word, genre in GENRE_WORDS.items():
        for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])" if word.isascii() else re.escape(word), lowered):
            before = lowered[max(0, match.start() - 12) : match.start()]
            negated = any(re.search(rf"(?:^|\W){re.escape(n)}\W*(?:\w+\W+)?$", before) for n in NEGATORS)
            target = found.excluded_genres if negated else found.genres
            if genre not in target:
                target.append(genre)
    found.genres = [g for g in found.genres if g not in found.excluded_genres]
    for word, genre in MOOD_WORDS.items():
        # Whole words in Latin script ("epicenter" is not "epic"); Chinese has no spaces to match.
        present = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", lowered) if word.isascii() else word in lowered
        if present and genre not in found.moods and genre not in found.excluded_genres:
            found.moods.append(genre)
    match = DECADE.search(lowered) or DECADE_ZH.search(lowered)
    if match:
        if match.group(1):
            found.decade = int(match.group(1) + match.group(2) + "0")
        else:
            digit = int(match.group(3))
            found.decade = 2000 + digit * 10 if digit <= 2 else 1900 + digit * 10
    return found


class _TitleIndex:
    """Folded titles -> [(movie id, year, popularity)], rebuilt when the catalogue changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple | None = None
        self.by_title: dict[str, list[tuple[int, int | None, int]]] = {}
        self.by_len: dict[int, list[str]] = {}
        self.words: set[str] = set()  # every word of the catalogue's titles, overviews, tags, genres and people
        # A rare title word -> its films: "like Shawshank" names The Shawshank Redemption.
        self.by_title_word: dict[str, list[tuple[int, int | None, int]]] = {}
        self.common: set[str] = set()  # words in the texts of many films ("love", "night", "movie")

    def get(self) -> _TitleIndex:
        latest = Movie.objects.order_by("-updated_at").values_list("updated_at", flat=True).first()
        stamp = (Movie.objects.count(), latest)
        with self.lock:
            if stamp != self.stamp:
                self._build()
                self.stamp = stamp
        return self

    def has_rare_word(self, window: str) -> bool:
        """Whether a title window holds a word that few films' texts have ("shawshank", not "disaster")."""
        return any(w not in self.common for w in latin_words(window))

    def _build(self) -> None:
        by_title: dict[str, list[tuple[int, int | None, int]]] = {}
        by_title_word: dict[str, list[tuple[int, int | None, int]]] = {}
        words: set[str] = set()
        texts_with: Counter[str] = Counter()  # films whose text has the word
        films = 0
        for pk, title, year, count, overview, tags in Movie.objects.values_list("pk", "title", "year", "rating_count", "overview", "tags"):
            own = latin_words(" ".join([title, overview, *tag_strings(tags)]))
            films += 1
            texts_with.update(own)
            words |= own
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
        self.by_title = by_title
        self.by_len = {}
        for key in by_title:
            self.by_len.setdefault(len(key.split()), []).append(key)


_index = _TitleIndex()


# Words that say nothing about a film: left out of explanations' word matches and of the
# "is any word of the request in the catalogue" check.
STOP_WORDS = frozenset(
    [
        "and", "are", "but", "can", "for", "from", "get", "has", "her", "him", "his", "its", "not", "one", "our", "out",
        "she", "the", "too", "was", "who", "why", "how", "you", "any", "all", "watch", "see", "show", "give", "please",
        "about", "after", "also", "before", "being", "film", "films", "have", "into", "like", "more", "movie",
        "movies", "made", "make", "some", "something", "than", "that", "their", "them", "then", "there", "these", "they",
        "this", "those", "very", "want", "were", "what", "when", "where", "which", "while", "with", "would", "your",
    ]
)


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


def find_mentions(text: str) -> list[int]:
    """Catalogue films named in the text, by exact or fuzzy match on whole-word windows.

    A title made of everyday words ("Disaster Movie", "For the Birds") counts only when it reads
    as a name: right after "like", "loved" etc., or capitalised. A fuzzy match (a typo) must share
    a word of four letters or more with the title: "the kids" is not "the birds".
    """
    index = _index.get()
    words = fold_words(text).split()
    raw_words = text.split()
    years = [int(y) for y in re.findall(r"\b(18\d\d|19\d\d|20\d\d)\b", text)]
    after = _after_hint(words)
    hinted = bool(after) or bool(MENTION_HINT.search(text))
    found: list[int] = []
    used: set[int] = set()
    for size in range(min(MAX_TITLE_WORDS, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            span = set(range(start, start + size))
            if span & used:
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
            if size == 1 and not named:
                continue
            if size >= 2 and not (named or _capitalised(raw_words, words[start]) or index.has_rare_word(window)):
                continue
            found.append(_pick(candidates, years))
            used |= span
    # A rare word of a longer title, right after "like" etc.: "like Shawshank, but lighter".
    for i, word in enumerate(words):
        if i not in used and i in after and word in index.by_title_word:
            found.append(_pick(index.by_title_word[word], years))
            used.add(i)
    return list(dict.fromkeys(found))


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


def _pick(candidates: list[tuple[int, int | None, int]], years: list[int]) -> int:
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
    constraints = parse_constraints(text)
    if not text:
        return AskResult([], [], constraints, "Tell us what you feel like watching.", store.active_version_id())
    bundle = store.active_bundle()
    if bundle is None:
        return AskResult([], [], constraints, "The recommendation model is not ready yet.", None)
    mentioned_ids = find_mentions(text)
    mentioned = list(Movie.objects.filter(pk__in=mentioned_ids))
    from recommendations.models import ModelVersion

    version = ModelVersion.objects.get(pk=bundle.version_id)
    # The named films count through their own vectors; their title words left in the text pulled
    # in namesakes ("Blade Runner 2049 but funnier" gave Blade, Runner Runner).
    rows = [bundle.row_of[m.pk] for m in mentioned if m.pk in bundle.row_of]
    rest = without_titles(text, [m.title for m in mentioned]) if rows else text
    words_left = bool(latin_words(rest)) or not rest.isascii()  # other scripts are not judged
    parts = []
    if words_left or not rows:  # nothing but the named films: their vectors say it all
        parts.append(get_encoder(version.encoder_path).embed([rest])[0])
    if rows:
        mention_vec = bundle.matrix[rows].mean(axis=0)
        parts.append(1.5 * mention_vec / (np.linalg.norm(mention_vec) or 1.0))
    seen: list[int] = []
    if user is not None and user.is_authenticated:
        from recommendations.engine import taste, user_profile

        profile = user_profile(user)
        vec, _rows, _w = taste(bundle, profile)
        if np.any(vec):
            parts.append(0.5 * vec)
        seen = [*profile.movie_ids.tolist(), *profile.hidden_ids.tolist()]
    query = np.sum(parts, axis=0)
    query /= np.linalg.norm(query) or 1.0
    scores = bundle.matrix @ query
    if constraints.moods:
        boosted = set(Movie.objects.filter(genres__name__in=constraints.moods).values_list("pk", flat=True))
        rows_boosted = [bundle.row_of[m] for m in boosted if m in bundle.row_of]
        scores = scores.copy()
        scores[rows_boosted] += MOOD_BOOST
    allowed = _allowed_rows(bundle, constraints, k)
    exclude_ids = set(seen) | {m.pk for m in mentioned}
    exclude = np.array([bundle.row_of[m] for m in exclude_ids if m in bundle.row_of], dtype=np.int64)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    top, top_scores = top_k(scores, k, exclude)
    keep = np.isfinite(top_scores)
    top, top_scores = top[keep], top_scores[keep]
    films = Movie.objects.in_bulk([as_key(bundle.movie_ids[r]) for r in top])
    attach_genres(films.values())
    if not mentioned and not constraints.describe() and not constraints.moods and words_unknown(text):
        # Nothing understood and no word known: any "match" would be arbitrary, so say so.
        note = "None of these words appear in the catalogue: try a title, a genre or a few words about the story."
        return AskResult([], [], constraints, note, bundle.version_id, unknown_words=True)
    items = [AskItem(films[as_key(bundle.movie_ids[r])], float(s), "") for r, s in zip(top, top_scores, strict=True) if as_key(bundle.movie_ids[r]) in films]
    note = "" if mentioned else "No film title recognised in your request; answered from your words alone."
    result = AskResult(items, mentioned, constraints, note, bundle.version_id)
    for item in items:  # each film's own reasons: a genre the film lacks is not claimed for it
        item.why = item_why(item.movie, result, text)
    return result


def item_why(movie: Movie, answer: AskResult, request_text: str) -> str:
    """Why this film fits the plain-words request: the films it is like, the parts of the
    request it matches (genres, decade, mood), and request words found in its own text."""
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
    if matched:
        bits.append(_("matches your request: %(what)s") % {"what": _(", ").join(matched)})
    # Four letters or more: a shared "war" or "man" explains little.
    asked = latin_words(request_text, min_length=4)
    own = latin_words(" ".join([movie.title, movie.overview, *movie.tag_list]), min_length=4)
    shared = [w for w in sorted(asked & own) if w not in {g.lower() for g in genres}][:3]
    if shared:
        quoted = _(", ").join(pgettext("quoted word", "“%(word)s”") % {"word": w} for w in shared)
        bits.append(_("about %(words)s") % {"words": quoted})
    return capfirst(_("; ").join(bits)) if bits else _("Close to your words")



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




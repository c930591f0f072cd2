"""Admin for staff curation: films with inline credits, genres, people, ratings."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote
from django.db import models, router
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from catalog import services
from catalog.models import Credit, Genre, Movie, NotInterested, Person, Rating, WatchlistItem, validate_tags
from catalog.text import fold

DECADES = range(1900, 2030, 10)
FIRST_FILM_YEAR = 1870  # the oldest motion pictures (1874, 1878); a year before is a typo
YEARS_AHEAD = 10  # announced films
MAX_RUNTIME = 32767  # PositiveSmallIntegerField's portable range: SQLite and MongoDB store more, PostgreSQL refuses it
IMDB_ID = re.compile(r"^(?:https?://(?:www\.|m\.)?imdb\.com/title/)?(?:tt)?(\d{1,14})/?(?:[?#].*)?$", re.IGNORECASE)
PERSON_SEARCH_MIN_CHARS = 3
PERSON_SEARCH_LIMIT = 50  # people matched per search: "john" alone matches hundreds
DELETE_LIST_LIMIT = 50  # objects named on a delete confirmation; related rows are counted, not listed
# What recommendations.ml.text.film_text builds a film's vector from (credits come from the inline).
FILM_TEXT_FIELDS = {"title", "year", "genres", "overview", "tags"}
NEXT_EMBEDDING = (
    "when the catalogue is next embedded: the minutely sweep queues it for the ml worker, and the site serves "
    "the new vectors as soon as they are written"
)


# --------------------------------------------------------------------------- delete confirmations


def admin_link(admin_site: admin.AdminSite, obj: models.Model) -> str:
    """'Film: <a href=change page>Heat (1995)</a>', as Django's delete confirmation names an object."""
    opts = obj._meta
    label = capfirst(opts.verbose_name)
    if admin_site.is_registered(obj.__class__):
        try:
            url = reverse(f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
        except NoReverseMatch:
            pass
        else:
            return format_html('{}: <a href="{}">{}</a>', label, url, obj)
    return format_html("{}: {}", label, obj)


class CountedDeleteMixin:
    """Delete confirmations that count related rows instead of listing each one.

    Django's default collects every related object and renders each one's str(): deleting
    Forrest Gump listed its 329 ratings with a query per rating's user (341 queries, 1.3 s on
    ml-latest-small) and deleting 100 popular films took 23 s and a 1.9 MB page. The Collector
    that delete() itself uses finds the same rows without loading most of them, so counting
    costs a query per related table. Permissions and protected rows are checked as Django does.
    """

    admin_site: admin.AdminSite
    model: type[models.Model]

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        related = getattr(self, "list_select_related", False)
        if isinstance(objs, models.QuerySet) and isinstance(related, list | tuple) and related:
            objs = objs.select_related(*related)  # the names below: a rating's str() reads its user and film
        objs = list(objs)
        if not objs:
            return [], {}, set(), []
        collector = Collector(using=router.db_for_write(self.model), origin=objs)
        try:
            collector.collect(objs)
        except (ProtectedError, RestrictedError) as exc:
            blocking = list(getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ()))
            return [], {}, set(), self._named(blocking)
        counts: Counter[type[models.Model]] = Counter()
        for model, instances in collector.data.items():
            counts[model] += len(instances)
        for queryset in collector.fast_deletes:
            counts[queryset.model] += queryset.count()
        perms_needed = {
            str(model._meta.verbose_name)
            for model, count in counts.items()
            if count
            and self.admin_site.is_registered(model)
            and not self.admin_site.get_model_admin(model).has_delete_permission(request)
        }
        model_count = {str(model._meta.verbose_name_plural): count for model, count in counts.items() if count}
        return self._named(objs), model_count, perms_needed, []

    def _named(self, objs: list[models.Model]) -> list[str]:
        named = [admin_link(self.admin_site, obj) for obj in objs[:DELETE_LIST_LIMIT]]
        if len(objs) > DELETE_LIST_LIMIT:
            named.append(f"… and {len(objs) - DELETE_LIST_LIMIT:,} more")
        return named


# --------------------------------------------------------------------------- films


class TagsField(forms.CharField):
    """Tags as staff type them: ``space, creature, spaceship`` (a JSON list is read too)."""

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list):
            return ", ".join(str(tag) for tag in value)
        return value

    def to_python(self, value: object) -> list[str]:
        text = str(super().to_python(value) or "").strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                raise forms.ValidationError("Tags: a comma-separated list, or a JSON list of strings.") from None
            return parsed  # checked by the field's validate_tags, as the comma-separated form is
        return [tag for tag in (" ".join(part.split()) for part in text.split(",")) if tag]


class MovieForm(forms.ModelForm):
    # Checked by the form, not only by the model: the model validator is skipped for "empty"
    # values (Django excludes blank fields from model validation).
    tags = TagsField(required=False, help_text="Comma-separated, e.g. heist, los angeles.", validators=[validate_tags])
    # Longer than the stored id (16): the film's imdb.com address may be pasted; clean_imdb_id keeps the id.
    imdb_id = forms.CharField(label="IMDb id", max_length=200, required=False, help_text="e.g. tt0113277, or the film's IMDb address.")

    class Meta:
        model = Movie
        fields = "__all__"

    # Only what staff changed is checked: a stored value from an import keeps saving as it is.

    def clean_year(self) -> int | None:
        # The model field takes any positive number (3000, 1066): a typo would date the film in
        # every list, filter and film text.
        year = self.cleaned_data.get("year")
        last = timezone.now().year + YEARS_AHEAD
        if year is not None and "year" in self.changed_data and not FIRST_FILM_YEAR <= year <= last:
            raise forms.ValidationError(f"A film's year is between {FIRST_FILM_YEAR} and {last}; got {year}.")
        return year

    def clean_runtime(self) -> int | None:
        runtime = self.cleaned_data.get("runtime")
        if runtime is not None and "runtime" in self.changed_data and not 1 <= runtime <= MAX_RUNTIME:
            raise forms.ValidationError(f"A runtime is between 1 and {MAX_RUNTIME:,} minutes (leave it blank if unknown).")
        return runtime

    def clean_imdb_id(self) -> str:
        """tt + at least 7 digits, as the MovieLens import writes it: the import links films by it,
        so "0113277", a typo or another film's id would duplicate or mis-link a film."""
        raw = (self.cleaned_data.get("imdb_id") or "").strip()
        if not raw or raw == self.instance.imdb_id:
            return raw
        match = IMDB_ID.match(raw)
        if match is None:
            raise forms.ValidationError("An IMDb id looks like tt0113277 (or paste the film's imdb.com/title/… address).")
        imdb_id = f"tt{int(match.group(1)):07d}"
        other = Movie.objects.filter(imdb_id=imdb_id).exclude(pk=self.instance.pk).only("pk", "title", "year").first()
        if other is not None:
            url = reverse("admin:catalog_movie_change", args=[quote(other.pk)])
            raise forms.ValidationError(format_html('{} is already the IMDb id of <a href="{}">{}</a>.', imdb_id, url, other))
        return imdb_id


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 1
    autocomplete_fields = ["person"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # Each row's heading is str(credit), which reads the person; the autocomplete widget
        # still makes its own query per row (Django's AutocompleteSelect).
        return super().get_queryset(request).select_related("person")


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        return [(str(d), f"{d}s") for d in DECADES]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if self.value() not in {str(d) for d in DECADES}:
            # The admin answers this with its "invalid filter" notice instead of a 500.
            raise IncorrectLookupParameters(f"unknown decade {self.value()!r}")
        start = int(self.value())
        return queryset.filter(year__gte=start, year__lte=start + 9)


@admin.register(Movie)
class MovieAdmin(CountedDeleteMixin, admin.ModelAdmin):
    form = MovieForm
    list_display = ["title", "year", "rating_count", "movielens_id", "tmdb_id", "updated_at"]
    list_filter = ["genres", DecadeFilter]
    search_fields = ["title", "title_key", "imdb_id"]
    search_help_text = "Title, IMDb id (tt0113277) or a director's or actor's name."
    filter_horizontal = ["genres"]
    inlines = [CreditInline]
    readonly_fields = ["rating_count", "rating_sum", "created_at", "updated_at"]

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # A film is embedded by the ml worker after the save (the sweep queues it), so say when it reaches recommendations.
        if not change:
            self.message_user(request, f"“{form.instance}” is recommended, and has similar films, {NEXT_EMBEDDING}.", messages.INFO)
        elif FILM_TEXT_FIELDS & set(form.changed_data) or any(formset.has_changed() for formset in formsets):
            self.message_user(request, f"Recommendations use this film's new text {NEXT_EMBEDDING}.", messages.INFO)

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """Title and IMDb id as Django searches them, or the films of the people whose name holds the term.

        People are matched on their folded name ("agnes varda" finds Agnès Varda) and their films
        found through Credit, as two lists of ids: no join, so MongoDB runs it as SQLite does.
        """
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = fold(search_term)
        if len(term) < PERSON_SEARCH_MIN_CHARS:
            return results, may_have_duplicates
        people = list(Person.objects.filter(name_key__contains=term).order_by().values_list("pk", flat=True)[:PERSON_SEARCH_LIMIT])
        if not people:
            return results, may_have_duplicates
        films = set(Credit.objects.filter(person_id__in=people).order_by().values_list("movie_id", flat=True))
        # Both sides keep the list filters already applied to `queryset`.
        return results | queryset.filter(pk__in=films), may_have_duplicates


# --------------------------------------------------------------------------- genres and people


@admin.register(Genre)
class GenreAdmin(CountedDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class PersonCreditInline(admin.TabularInline):
    """A person's films, read-only (credits are edited on the film): what staff check before
    renaming or deleting someone."""

    model = Credit
    fk_name = "person"
    fields = ["movie", "role", "order"]
    readonly_fields = ["movie", "role", "order"]
    extra = 0
    can_delete = False
    verbose_name_plural = "films"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("movie", "person")  # one query, not one per credit

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(CountedDeleteMixin, admin.ModelAdmin):
    search_fields = ["name", "name_key"]
    inlines = [PersonCreditInline]


# --------------------------------------------------------------------------- what users did


@admin.register(Rating)
class RatingAdmin(CountedDeleteMixin, admin.ModelAdmin):
    """Users' ratings, to look at and, when needed, delete.

    Not added or edited here: a rating written by the admin would skip the film's rating_count
    and rating_sum (popularity, averages) and the retraining counter that catalog.services keeps.
    Deletes go through services.rating_delete for the same reason.
    """

    list_display = ["user", "movie", "value", "updated_at"]
    list_filter = ["value"]
    search_fields = ["user__username", "movie__title"]
    raw_id_fields = ["user", "movie"]
    list_select_related = ["user", "movie"]
    # The total beside a filtered count is a second full count of the table: 32M rows on ml-32m.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Rating | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Rating) -> None:
        services.rating_delete(user=obj.user, movie=obj.movie)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for rating in queryset.select_related("user", "movie"):
            services.rating_delete(user=rating.user, movie=rating.movie)


@admin.register(WatchlistItem, NotInterested)
class UserListAdmin(CountedDeleteMixin, admin.ModelAdmin):
    """Users' watchlists and "not interested" lists, to look at and delete from.

    Not added or edited here: catalog.services keeps a film off one list when it joins the other
    (the admin put a watchlisted film on "not interested" too) and counts "not interested" changes
    for retraining. Deletes go through the same services.
    """

    list_display = ["user", "movie", "created_at"]
    raw_id_fields = ["user", "movie"]
    list_select_related = ["user", "movie"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WatchlistItem | NotInterested | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: WatchlistItem | NotInterested) -> None:
        self._remove(obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for item in queryset.select_related("user", "movie"):
            self._remove(item)

    def _remove(self, item: WatchlistItem | NotInterested) -> None:
        remove = services.watchlist_remove if isinstance(item, WatchlistItem) else services.not_interested_remove
        remove(user=item.user, movie=item.movie)

"""Admin for staff curation: films with inline credits, genres, people, ratings."""

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters

from catalog.models import Credit, Genre, Movie, NotInterested, Person, Rating, WatchlistItem, validate_tags

DECADES = range(1900, 2030, 10)


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

    class Meta:
        model = Movie
        fields = "__all__"


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 1
    autocomplete_fields = ["person"]


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
class MovieAdmin(admin.ModelAdmin):
    form = MovieForm
    list_display = ["title", "year", "rating_count", "movielens_id", "tmdb_id", "updated_at"]
    list_filter = ["genres", DecadeFilter]
    search_fields = ["title", "title_key", "imdb_id"]
    filter_horizontal = ["genres"]
    inlines = [CreditInline]
    readonly_fields = ["rating_count", "rating_sum", "created_at", "updated_at"]


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    search_fields = ["name", "name_key"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["user", "movie", "value", "updated_at"]
    list_filter = ["value"]
    search_fields = ["user__username", "movie__title"]
    raw_id_fields = ["user", "movie"]
    list_select_related = ["user", "movie"]


@admin.register(WatchlistItem, NotInterested)
class UserListAdmin(admin.ModelAdmin):
    list_display = ["user", "movie", "created_at"]
    raw_id_fields = ["user", "movie"]
    list_select_related = ["user", "movie"]

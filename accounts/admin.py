from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from accounts.models import User
from catalog import services
from catalog.admin import CountedDeleteMixin
from catalog.models import Rating


@admin.register(User)
class UserAdmin(CountedDeleteMixin, BaseUserAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "movielens_id", "date_joined"]
    list_filter = [*BaseUserAdmin.list_filter, "onboarded"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("movierec", {"fields": ["movielens_id", "onboarded", "favourite_genres"]})]

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        _delete_ratings([obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        _delete_ratings(list(queryset))
        super().delete_queryset(request, queryset)


def _delete_ratings(users: list[User]) -> None:
    """Each rating through catalog.services, before the account goes: the cascade alone would leave
    every film the user rated counting their rating in rating_count and rating_sum."""
    for user in users:
        for rating in Rating.objects.filter(user=user).select_related("movie").order_by():
            services.rating_delete(user=user, movie=rating.movie)

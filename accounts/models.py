"""Users. A custom model from the start, so profile fields never need a swap."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    # Imported MovieLens users are real (inactive) accounts so their ratings count.
    movielens_id = models.PositiveIntegerField(_("MovieLens user id"), null=True, blank=True, unique=True)
    onboarded = models.BooleanField(_("onboarding done"), default=False)
    favourite_genres = models.ManyToManyField("catalog.Genre", blank=True, related_name="+")

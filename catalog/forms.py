from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import validate_rating_value

RATING_CHOICES = [(str(x / 2), f"{x / 2:g}") for x in range(1, 11)]


class RatingForm(forms.Form):
    value = forms.TypedChoiceField(
        label=_("Your rating"), choices=RATING_CHOICES, coerce=float,
        error_messages={
            "invalid_choice": _("A rating must be between 0.5 and 5.0 in steps of 0.5."),
            "required": _("A rating must be between 0.5 and 5.0 in steps of 0.5."),
        },
    )

    def clean_value(self) -> float:
        value = self.cleaned_data["value"]
        validate_rating_value(value)
        return value


class BrowseForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Title"))
    genre = forms.SlugField(required=False)
    decade = forms.IntegerField(required=False, min_value=1870, max_value=2100)
    sort = forms.ChoiceField(
        required=False,
        choices=[("popular", _("Most rated")), ("title", _("Title")), ("newest", _("Newest")), ("oldest", _("Oldest")), ("added", _("Recently added"))],
    )

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import validate_rating_value

RATING_ERROR = _("A rating must be between 0.5 and 5.0 in steps of 0.5.")


class RatingForm(forms.Form):
    # A number, not a choice: "4", "4.0" and "4.50" are the same rating (FloatField also refuses
    # NaN and infinities); the range and the half steps are the model's validator.
    value = forms.FloatField(label=_("Your rating"), error_messages={"invalid": RATING_ERROR, "required": RATING_ERROR})

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

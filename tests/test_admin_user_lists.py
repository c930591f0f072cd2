"""Watchlists and "not interested" lists in the admin go through catalog.services.

Before, the admin could add a film to a user's "not interested" list while it was on their
watchlist (services keep a film on one list at most), and its deletes skipped the retraining
counter that services.not_interested_remove keeps.
"""

from __future__ import annotations

from django.urls import reverse

from catalog import services
from catalog.models import NotInterested, WatchlistItem
from recommendations.models import TrainingState
from tests.factories import MovieFactory, UserFactory


def test_list_items_are_not_added_or_edited_in_the_admin(client, staff):
    member, film = UserFactory(username="member"), MovieFactory(title="Heat")
    item, _ = services.watchlist_add(user=member, movie=film)
    client.force_login(staff)

    assert client.get(reverse("admin:catalog_notinterested_add")).status_code == 403
    client.post(reverse("admin:catalog_notinterested_add"), {"user": member.pk, "movie": film.pk})
    assert not NotInterested.objects.exists() and WatchlistItem.objects.filter(pk=item.pk).exists()
    assert "View watchlist item" in client.get(reverse("admin:catalog_watchlistitem_change", args=[item.pk])).content.decode()


def test_deleting_list_items_in_the_admin_goes_through_the_services(client, staff):
    member = UserFactory(username="member")
    films = [MovieFactory(title=f"Film {i}") for i in range(3)]
    services.watchlist_add(user=member, movie=films[0])
    for film in films[1:]:
        services.not_interested_add(user=member, movie=film)
    events = TrainingState.load().events_since_training
    client.force_login(staff)

    hidden = list(NotInterested.objects.values_list("pk", flat=True))
    client.post(reverse("admin:catalog_notinterested_changelist"), {"action": "delete_selected", "_selected_action": hidden, "post": "yes"})
    listed = WatchlistItem.objects.get()
    assert client.post(reverse("admin:catalog_watchlistitem_delete", args=[listed.pk]), {"post": "yes"}).status_code == 302

    assert not NotInterested.objects.exists() and not WatchlistItem.objects.exists()
    assert TrainingState.load().events_since_training == events + 2  # one per film taken off "not interested"

"""First-run setup used by scripts/run.sh: data, admin account and a first model."""

from __future__ import annotations

import os
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from catalog.models import Movie
from recommendations.models import ActiveModel

SYNC_EMBED_LIMIT = 2000  # larger catalogues are embedded in the background


class Command(BaseCommand):
    help = "Load MovieLens (MOVIELENS_DIR) or the starter catalogue, ensure an admin, and embed films."

    def handle(self, *args, **opts) -> None:
        source = os.environ.get("MOVIELENS_DIR")
        if source:
            extra = []
            if os.environ.get("OVERVIEWS_FILE"):
                extra += ["--overviews", os.environ["OVERVIEWS_FILE"]]
            if os.environ.get("CREDITS_FILE"):
                extra += ["--credits", os.environ["CREDITS_FILE"]]
            call_command("import_movielens", source, *extra)
        else:
            call_command("load_starter", "--if-empty")
        call_command("ensure_admin")
        if ActiveModel.objects.singleton().filter(version__isnull=False).exists():
            # Films added since the last run (or by staff) get their vectors.
            subprocess.Popen([sys.executable, "manage.py", "embed_films", "--changed-only"])
            return
        if Movie.objects.count() <= SYNC_EMBED_LIMIT:
            call_command("embed_films")
        else:
            self.stdout.write("Embedding the catalogue in the background; popular films are shown until it is done.")
            subprocess.Popen([sys.executable, "manage.py", "embed_films"])

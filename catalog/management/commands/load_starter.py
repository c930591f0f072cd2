from django.core.management.base import BaseCommand

from catalog.models import Movie
from catalog.starter import load_starter_catalogue


class Command(BaseCommand):
    help = "Load the shipped starter catalogue (only when the catalogue is empty with --if-empty)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--if-empty", action="store_true")

    def handle(self, *args, **opts) -> None:
        if opts["if_empty"] and Movie.objects.exists():
            self.stdout.write("Catalogue not empty; starter catalogue not loaded.")
            return
        created = load_starter_catalogue()
        self.stdout.write(self.style.SUCCESS(f"Starter catalogue: {created} films added."))

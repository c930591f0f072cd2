"""python manage.py embed_films [--model-version N] [--changed-only]: the same code as the Celery refresh."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommendations import services
from recommendations.models import ModelVersion


class Command(BaseCommand):
    help = "Embed the catalogue with a model version's encoder (default: the active one, or a new base version)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model-version", dest="model_version", type=int, help="ModelVersion id (default: active)")
        parser.add_argument("--changed-only", action="store_true", help="Only new and changed films")

    def handle(self, *args, **opts) -> None:
        bar = tqdm(total=0, unit="film", desc="embedding", file=self.stderr._out, mininterval=0.5)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        if opts["model_version"]:
            version = ModelVersion.objects.filter(pk=opts["model_version"]).first()
            if version is None:
                raise CommandError(f"No model version {opts['model_version']}")
        else:
            version = services.active_version()
        if version is None:
            version = services.bootstrap_base_version(progress=progress)
            bar.close()
            self.stdout.write(self.style.SUCCESS(f"Created and activated base model v{version.pk}."))
            return
        counts = services.embed_catalogue(version, only_changed=opts["changed_only"], progress=progress)
        bar.close()
        from recommendations.store import reset_cache

        reset_cache()
        self.stdout.write(self.style.SUCCESS(f"v{version.pk}: {counts['embedded']} of {counts['films']} films embedded."))

"""Create a local admin account with a random password, shown once and kept under var/."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Ensure an 'admin' superuser exists; prints where its generated password is stored."

    def handle(self, *args, **opts) -> None:
        User = get_user_model()
        secret_file = Path(settings.VAR_DIR) / "admin-password.txt"
        if User.objects.filter(username="admin").exists() and secret_file.exists():
            self.stdout.write(f"Admin login: user 'admin', password in {secret_file}")
            return
        password = secrets.token_urlsafe(12)
        user, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@localhost"})
        user.is_staff = user.is_superuser = user.is_active = True
        user.onboarded = True
        user.set_password(password)
        user.save()
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        self.stdout.write(f"Admin login: user 'admin', password {password} (also saved in {secret_file})")

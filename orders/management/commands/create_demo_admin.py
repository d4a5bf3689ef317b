"""Make sure the demo staff account of `make run` exists."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo admin (DEMO_ADMIN_USER / DEMO_ADMIN_PASSWORD, default admin/admin) if missing."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("DEMO_ADMIN_USER", "admin")
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "admin")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"demo admin {username!r} already exists")
            return
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(f"created demo admin {username!r}")

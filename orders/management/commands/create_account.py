"""Create an API account and print its token."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create an account (or find it) and print its API token on stdout, alone, for scripts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--rotate", action="store_true", help="replace the account's token with a new one")

    def handle(self, *args, name: str, rotate: bool, **options) -> None:
        name = name.strip()
        if not name:
            raise CommandError("the account needs a name")
        account, created = get_user_model().objects.get_or_create(username=name)
        if created:
            account.set_unusable_password()
            account.save()
        if rotate:
            Token.objects.filter(user=account).delete()
        token, _ = Token.objects.get_or_create(user=account)
        self.stderr.write(f"{'created' if created else 'found'} account {name!r}; its token:")
        self.stdout.write(token.key)

"""`manage.py watch_order`: orders.watch, for those who reach for manage.py."""

from django.core.management.base import BaseCommand, CommandError

from orders.watch import WatchError, add_arguments, watch


class Command(BaseCommand):
    help = "Follow an order's WebSocket stream and print each status change."

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, order_id: str, url: str, after: int, token: str, raw: bool, **options) -> None:
        try:
            watch(order_id=order_id, url=url, after=after, token=token, raw=raw, write=self.stdout.write)
        except WatchError as exc:
            raise CommandError(str(exc)) from exc

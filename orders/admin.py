"""Order inspection for operators; the history is read-only here."""

import time
from dataclasses import replace

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from orders.exceptions import NotCancellable
from orders.models import Order, OrderEvent, OrderType
from orders.services import order_cancel
from orders.venues import get_router

LEG_COLUMNS = (
    "venue",
    "amount_in",
    "token_in",
    "amount_out",
    "token_out",
    "fee",
    "fee_rate",
    "price_impact",
    "bins_crossed",
)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderEvent
    fields = ["seq", "status", "created_at", "data"]
    readonly_fields = fields
    ordering = ["seq"]
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id", "status", "pair", "amount", "venue", "tx_hash", "attempts", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "venue", "type"]
    search_fields = ["=id", "=tx_hash"]
    date_hierarchy = "created_at"
    inlines = [OrderEventInline]
    readonly_fields = ["route_legs", *(field.name for field in Order._meta.fields)]
    list_per_page = 50
    show_full_result_count = False
    actions = ["cancel_orders", "launch_tokens_now"]

    def has_cancel_permission(self, request) -> bool:
        return request.user.is_staff

    has_launch_permission = has_cancel_permission

    @admin.action(description="Launch now the tokens the selected sniper orders wait for", permissions=["launch"])
    def launch_tokens_now(self, request, queryset) -> None:
        board = get_router().launches
        launched = []
        for symbol in queryset.filter(type=OrderType.SNIPER).values_list("token_out", flat=True).distinct():
            listed = board.get(symbol)
            if listed:
                board.list(replace(listed, launch_at=time.time()))
                launched.append(symbol)
        self.message_user(request, f"Launched: {', '.join(launched) or 'nothing'}.")

    @admin.action(description="Cancel the selected orders (those not yet submitted)", permissions=["cancel"])
    def cancel_orders(self, request, queryset) -> None:
        cancelled, refused = 0, []
        for order_id in queryset.values_list("id", flat=True):
            try:
                order_cancel(order_id=order_id, by=f"operator {request.user.get_username()}")
                cancelled += 1
            except NotCancellable as exc:
                refused.append(f"{order_id} ({exc.current})")
        self.message_user(request, f"{cancelled} orders cancelled.")
        if refused:
            self.message_user(request, "Not cancellable: " + ", ".join(refused), level=messages.WARNING)

    @admin.display(description="pair")
    def pair(self, order: Order) -> str:
        return f"{order.token_in} → {order.token_out}"

    @admin.display(description="route legs")
    def route_legs(self, order: Order) -> str:
        """The chosen route as a table: where each leg swapped, for what fee and price impact."""
        route = order.route
        if not route:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} {}</td><td>{} {}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            ([leg[key] for key in LEG_COLUMNS] for leg in route["legs"]),
        )
        gain = route.get("gain_bps")
        return format_html(
            "<p>{} via {}: {} {} for {} {}, price impact {}, gain over the best single venue {}</p>"
            "<table><tr><th>venue</th><th>in</th><th>out</th><th>fee (rate)</th><th>price impact</th>"
            "<th>bins crossed</th></tr>{}</table>",
            route["kind"], route["venue"], route["amount_in"], route["token_in"], route["amount_out"],
            route["token_out"], route["price_impact"], f"{gain} bp" if gain is not None else "n/a", rows,
        )  # fmt: skip

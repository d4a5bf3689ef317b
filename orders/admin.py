"""Order inspection for operators; the history is read-only here."""

from django.contrib import admin

from orders.models import Order, OrderEvent


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
    readonly_fields = [field.name for field in Order._meta.fields]
    list_per_page = 50
    show_full_result_count = False

    @admin.display(description="pair")
    def pair(self, order: Order) -> str:
        return f"{order.token_in} → {order.token_out}"

"""Cursor pagination: stable pages, newest first, and cheap however long the history grows."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class OrderCursorPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        """`limit`, refused with 400 when it is not a whole number from 1 to max_page_size.

        DRF would quietly fall back to the default page size; a client asking for an impossible
        page is told so instead, like any other bad input.
        """
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [f"Enter a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

"""Cursor pagination: stable pages, newest first, and cheap however long the history grows."""

from rest_framework.pagination import CursorPagination


class OrderCursorPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

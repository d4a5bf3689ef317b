"""JSON parsing that keeps numbers exact: a JSON number becomes a Decimal, never a float."""

import json
from decimal import Decimal

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.REQUEST_BODY_MAX_BYTES
        # Read one byte past the limit rather than the whole body: a huge body is never buffered.
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
        try:
            return json.loads(body.decode(encoding), parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc

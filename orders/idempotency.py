"""Idempotency keys: a request retried with the same key gets the first answer, never a second order."""

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from orders.exceptions import IdempotencyKeyInFlight, IdempotencyKeyReused
from orders.models import IdempotencyKey, IdempotencyStatus

HEADER = "Idempotency-Key"
VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@dataclass(frozen=True)
class StoredResponse:
    """An answer as an idempotency key keeps it; `replayed` when it comes from an earlier request."""

    status: int
    body: Any
    replayed: bool = False


def idempotency_key_clean(value: str | None) -> str | None:
    """The key of an Idempotency-Key header's value, or None when the request sent none.

    Raises ValidationError (400, naming the header) unless it is 1 to 255 printable ASCII characters.
    """
    if value is None:
        return None
    if not VALID_KEY.fullmatch(value):
        raise ValidationError({HEADER: ["Must be 1 to 255 printable ASCII characters, such as a UUID."]})
    return value


def idempotency_request_hash(*, method: str, path: str, data: Any) -> str:
    """sha256 of the method, the path and the body in a canonical JSON form (sorted keys, no spaces)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{body}".encode()).hexdigest()


@transaction.atomic
def idempotency_key_claim(*, account: AbstractBaseUser, key: str, request_hash: str) -> IdempotencyKey | StoredResponse:
    """Claim `key` of `account` for this request, or return the answer stored under it.

    Call it outside any transaction: the in-flight row must be committed before the request's work
    starts, so that a concurrent request with the same key sees it. An in-flight claim older than
    IDEMPOTENCY_IN_FLIGHT_SECONDS belongs to a request that died before storing its answer (the
    answer and its work commit together), so it is taken over.
    Raises IdempotencyKeyReused when the key was sent with another request, and
    IdempotencyKeyInFlight while the request that holds it is still running.
    """
    now = timezone.now()
    row, created = IdempotencyKey.objects.select_for_update().get_or_create(
        account=account, key=key, defaults={"request_hash": request_hash, "locked_at": now, "created_at": now}
    )
    if created:
        return row
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if row.status == IdempotencyStatus.DONE:
        return StoredResponse(status=row.response_status, body=row.response_body, replayed=True)
    if row.locked_at > now - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_SECONDS):
        raise IdempotencyKeyInFlight()
    # Strictly later, so the claim time of the request that lost the key can never match again.
    row.locked_at = max(now, row.locked_at + timedelta(microseconds=1))
    row.save(update_fields=["locked_at"])
    return row


def idempotency_key_complete(*, claim: IdempotencyKey, response: StoredResponse) -> None:
    """Store the answer under a key this request still holds.

    Call it inside the transaction that did the work the answer reports, so that both commit or
    neither does. Raises IdempotencyKeyInFlight when another request has taken the key over, which
    rolls that work back.
    """
    # The row lock this UPDATE takes, and its re-checked conditions, make it exclusive with a takeover.
    stored = IdempotencyKey.objects.filter(
        pk=claim.pk, status=IdempotencyStatus.IN_FLIGHT, locked_at=claim.locked_at
    ).update(status=IdempotencyStatus.DONE, response_status=response.status, response_body=response.body)
    if not stored:
        raise IdempotencyKeyInFlight()


def idempotency_key_release(*, claim: IdempotencyKey) -> None:
    """Free a key this request still holds, after it stored nothing, so the client may retry with it."""
    IdempotencyKey.objects.filter(pk=claim.pk, status=IdempotencyStatus.IN_FLIGHT, locked_at=claim.locked_at).delete()


def idempotency_key_run(
    *, account: AbstractBaseUser, key: str | None, request_hash: str, call: Callable[[], StoredResponse]
) -> StoredResponse:
    """Answer with `call()` once per key: later requests with the same key get the stored answer.

    Call it outside any transaction (see idempotency_key_claim). `call` runs in a transaction
    together with storing its answer; when it raises (a 400, a refusal, a failure) nothing is
    stored and the key is released. Without a key, `call` simply runs.
    """
    if key is None:
        return call()
    claim = idempotency_key_claim(account=account, key=key, request_hash=request_hash)
    if isinstance(claim, StoredResponse):
        return claim
    try:
        with transaction.atomic():
            response = call()
            idempotency_key_complete(claim=claim, response=response)
    except Exception:
        idempotency_key_release(claim=claim)
        raise
    return response


def idempotency_keys_purge() -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_TTL_HOURS; returns how many were deleted."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted

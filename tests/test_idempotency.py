"""Idempotency-Key on placing an order: replays, conflicts, released keys, accounts, expiry."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from orders.exceptions import IdempotencyKeyInFlight
from orders.idempotency import (
    StoredResponse,
    idempotency_key_claim,
    idempotency_key_complete,
    idempotency_key_release,
    idempotency_keys_purge,
    idempotency_request_hash,
)
from orders.models import IdempotencyKey, IdempotencyStatus, Order
from orders.services import order_create
from orders.states import Status
from tests.factories import OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db

EXECUTE = "/api/orders/execute"
BODY = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}
KEY = "6c1d1f0a-7b8e-4d5f-9a61-2f3b4c5d6e7f"


def client_of(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def place(client: APIClient, body: dict = BODY, key: str | None = KEY):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(EXECUTE, body, format="json", **headers)


def in_flight_row(account, *, age: timedelta) -> IdempotencyKey:
    """The row a request that holds KEY for BODY leaves while it runs (or after it died)."""
    since = timezone.now() - age
    return IdempotencyKey.objects.create(
        account=account,
        key=KEY,
        request_hash=idempotency_request_hash(method="POST", path=EXECUTE, data=BODY),
        locked_at=since,
        created_at=since,
    )


@pytest.fixture
def token():
    return TokenFactory()


@pytest.fixture
def api(token):
    return client_of(token)


def test_retry_with_the_same_key_and_body_gets_the_first_answer_and_no_second_order(
    api, django_capture_on_commit_callbacks
):
    first = place(api)
    with django_capture_on_commit_callbacks() as callbacks:
        # The same body with its keys in another order is the same request.
        retry = place(api, dict(reversed(BODY.items())))

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert retry["Location"] == first["Location"] == f"/api/orders/{first.json()['orderId']}/"
    assert Order.objects.count() == 1
    assert callbacks == []  # nothing queued again


def test_same_key_with_another_body_is_refused_with_422_and_places_nothing(api):
    first = place(api)

    other = place(api, BODY | {"amount": "2"})

    assert first.status_code == 201
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert "different request" in other.json()["detail"]
    assert Order.objects.count() == 1
    # The key still answers its own request.
    assert place(api).json() == first.json()


def test_key_held_by_a_request_in_flight_answers_409(api, token):
    in_flight_row(token.user, age=timedelta(seconds=1))

    response = place(api)

    assert response.status_code == 409
    assert "still in progress" in response.json()["detail"]
    assert not Order.objects.exists()
    assert IdempotencyKey.objects.get().status == IdempotencyStatus.IN_FLIGHT


def test_key_of_a_request_that_died_in_flight_is_taken_over(api, token, settings):
    settings.IDEMPOTENCY_IN_FLIGHT_SECONDS = 60
    in_flight_row(token.user, age=timedelta(seconds=61))

    response = place(api)
    retry = place(api)

    row = IdempotencyKey.objects.get()
    assert response.status_code == 201
    assert (row.status, row.response_status, row.response_body) == (IdempotencyStatus.DONE, 201, response.json())
    assert retry.json() == response.json()
    assert Order.objects.count() == 1


def test_a_request_whose_key_was_taken_over_can_neither_store_an_answer_nor_release_the_key(token, settings):
    settings.IDEMPOTENCY_IN_FLIGHT_SECONDS = 0
    request_hash = idempotency_request_hash(method="POST", path=EXECUTE, data=BODY)
    slow = idempotency_key_claim(account=token.user, key=KEY, request_hash=request_hash)
    # The slow request looks dead by now, so a retry takes the key over.
    retry = idempotency_key_claim(account=token.user, key=KEY, request_hash=request_hash)

    with pytest.raises(IdempotencyKeyInFlight), transaction.atomic():
        order = order_create(account=token.user, token_in="SOL", token_out="USDC", amount=Decimal("1"))
        idempotency_key_complete(claim=slow, response=StoredResponse(status=201, body={"orderId": str(order.id)}))
    idempotency_key_release(claim=slow)

    row = IdempotencyKey.objects.get()
    assert not Order.objects.exists()
    assert (row.status, row.locked_at) == (IdempotencyStatus.IN_FLIGHT, retry.locked_at)


def test_keys_belong_to_their_account(api):
    other = client_of(TokenFactory())

    mine = place(api)
    theirs = place(other)

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["orderId"] != theirs.json()["orderId"]
    assert "Idempotent-Replayed" not in theirs
    assert Order.objects.count() == 2


def test_a_400_does_not_use_up_the_key(api):
    refused = place(api, BODY | {"tokenOut": "SOL"})
    fixed = place(api)

    assert refused.status_code == 400
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert Order.objects.count() == 1


def test_a_refusal_of_the_open_order_cap_does_not_use_up_the_key(api, token, settings):
    settings.ORDER_MAX_OPEN_PER_ACCOUNT = 1
    OrderFactory(account=token.user, status=Status.ROUTING)

    refused = place(api)
    settings.ORDER_MAX_OPEN_PER_ACCOUNT = 2
    placed = place(api)

    assert refused.status_code == 429
    assert placed.status_code == 201
    assert Order.objects.count() == 2


def test_requests_without_a_key_each_place_an_order(api):
    assert [place(api, key=None).status_code for _ in range(2)] == [201, 201]
    assert Order.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["k" * 256, "", "clé", "line\nbreak", "tab\tkey"])
def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_refused_with_400(api, key):
    response = place(api, key=key)

    assert response.status_code == 400
    assert "Must be 1 to 255 printable ASCII characters" in response.json()["Idempotency-Key"][0]
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_key_of_255_printable_ascii_characters_is_accepted(api):
    key = "".join(chr(code) for code in range(0x21, 0x7F)) * 3

    assert place(api, key=key[:255]).status_code == 201


def test_purge_deletes_only_keys_past_their_ttl(api, token, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    place(api, key="fresh")
    place(api, key="old")
    place(api, key="older")
    now = timezone.now()
    IdempotencyKey.objects.filter(key="old").update(created_at=now - timedelta(hours=24, minutes=1))
    IdempotencyKey.objects.filter(key="older").update(created_at=now - timedelta(days=3))

    assert idempotency_keys_purge() == 2
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    # A purged key is a new key: it places a new order.
    again = place(api, key="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Order.objects.count() == 4


def test_keys_are_honoured_for_their_whole_ttl(api, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    first = place(api)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))

    assert idempotency_keys_purge() == 0
    retry = place(api)

    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Order.objects.count() == 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_over_http_place_exactly_one_order(live):
    start = threading.Barrier(5)

    def post(_):
        start.wait()
        return live.http.post(EXECUTE, json=BODY, headers={"Idempotency-Key": KEY})

    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(post, range(5)))

    order = Order.objects.get()
    placed = [response for response in responses if response.status_code == 201]
    assert {response.status_code for response in responses} <= {201, 409}
    assert placed
    assert all(response.json()["orderId"] == str(order.id) for response in placed)
    assert all(response.json() == placed[0].json() for response in placed)
    assert live.wait_terminal(str(order.id))["status"] in ("confirmed", "failed")

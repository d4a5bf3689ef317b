"""The stream consumer: no event lost or repeated when the channel layer drops or repeats one."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from engine.asgi import application
from orders import consumers
from orders.fanout import REPLAY_TYPE, order_event_hub
from orders.publisher import EVENT_TYPE, event_message, order_group
from orders.services import order_transition
from orders.states import Status
from tests.factories import OrderEventFactory, OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _order_with_events(*statuses: Status):
    order = OrderFactory(status=statuses[-1], last_seq=len(statuses), account=TokenFactory().user)
    for seq, status in enumerate(statuses, start=1):
        OrderEventFactory(order=order, seq=seq, status=status)
    return order


@database_sync_to_async
def _append_silently(order, seq: int, status: Status):
    """An event stored but whose live message the channel layer lost."""
    order.status, order.last_seq = status, seq
    order.save()
    return event_message(OrderEventFactory(order=order, seq=seq, status=status))


@database_sync_to_async
def _token_of(order) -> str:
    return order.account.auth_token.key


async def _subscriber(order, path: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, subprotocols=["token", await _token_of(order)])


async def _send_live(order, message: dict) -> None:
    await get_channel_layer().group_send(order_group(order.id), {"type": EVENT_TYPE, "event": message})


async def test_gap_in_live_events_is_filled_from_the_database_and_repeats_are_dropped():
    order = await _order_with_events(Status.PENDING, Status.ROUTING)
    communicator = await _subscriber(order, f"/ws/orders/{order.id}/")
    connected, _ = await communicator.connect()
    assert connected
    assert [(await communicator.receive_json_from())["seq"] for _ in range(2)] == [1, 2]

    await _append_silently(order, 3, Status.BUILDING)
    fourth = await _append_silently(order, 4, Status.SUBMITTED)
    await _send_live(order, fourth)
    assert [(await communicator.receive_json_from(timeout=5))["seq"] for _ in range(2)] == [3, 4]

    await _send_live(order, fourth)
    await database_sync_to_async(order_transition)(order_id=order.id, expected=Status.SUBMITTED, to=Status.CONFIRMED)
    last = await communicator.receive_json_from(timeout=5)
    assert (last["seq"], last["status"]) == (5, "confirmed")
    assert (await communicator.receive_output(timeout=5))["code"] == 1000
    await communicator.disconnect()


async def test_what_a_client_sends_is_ignored():
    order = await _order_with_events(Status.PENDING)
    communicator = await _subscriber(order, f"/api/orders/execute?orderId={order.id}")
    await communicator.connect()
    assert (await communicator.receive_json_from())["seq"] == 1

    await communicator.send_to(text_data="{not json")
    await communicator.send_to(bytes_data=b"\x00" * 1024)

    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_live_events_and_the_close_of_a_subscriber_take_no_hop_to_the_shared_sync_thread(monkeypatch):
    hops = []

    async def counted():
        hops.append(1)

    # Channels' own dispatch closes old connections on the one thread sync_to_async shares, per
    # message, and its websocket_disconnect once more when the client goes.
    monkeypatch.setattr("channels.consumer.aclose_old_connections", counted)
    monkeypatch.setattr("channels.generic.websocket.aclose_old_connections", counted)
    order = await _order_with_events(Status.PENDING)
    communicator = await _subscriber(order, f"/ws/orders/{order.id}/")
    await communicator.connect()
    assert (await communicator.receive_json_from())["seq"] == 1

    await database_sync_to_async(order_transition)(order_id=order.id, expected=Status.PENDING, to=Status.ROUTING)
    assert (await communicator.receive_json_from(timeout=5))["seq"] == 2
    await communicator.disconnect()

    assert hops == []
    assert str(order.id) not in order_event_hub().orders


async def test_a_replay_from_the_hub_sends_the_stored_events_the_subscriber_missed():
    order = await _order_with_events(Status.PENDING)
    communicator = await _subscriber(order, f"/ws/orders/{order.id}/")
    await communicator.connect()
    assert (await communicator.receive_json_from())["seq"] == 1
    await _append_silently(order, 2, Status.ROUTING)
    await _append_silently(order, 3, Status.BUILDING)

    # What the hub does once it has the channel layer back after losing it.
    for subscriber in order_event_hub().orders[str(order.id)].subscribers:
        subscriber.inbox.put_nowait({"type": REPLAY_TYPE})

    assert [(await communicator.receive_json_from(timeout=5))["seq"] for _ in range(2)] == [2, 3]
    await communicator.disconnect()


async def test_a_subscriber_whose_history_cannot_be_read_leaves_the_hub(monkeypatch):
    order = await _order_with_events(Status.PENDING)

    async def database_away(order_id, key, after):
        raise ConnectionError("database away")

    monkeypatch.setattr("orders.consumers._history", database_away)
    communicator = await _subscriber(order, f"/ws/orders/{order.id}/")
    await communicator.connect()

    with pytest.raises(ConnectionError):
        await communicator.wait()
    assert str(order.id) not in order_event_hub().orders


async def test_another_accounts_order_is_refused_leaves_the_hub_and_sends_none_of_its_events(monkeypatch):
    order = await _order_with_events(Status.PENDING, Status.ROUTING)
    mallory = await database_sync_to_async(TokenFactory)()
    read = consumers._history

    async def history_after_a_live_event(order_id, key, after):
        # The socket is in the hub before the history tells whose order it is: a live event may be waiting.
        (socket,) = order_event_hub().orders[str(order_id)].subscribers
        live = await database_sync_to_async(order_transition)(
            order_id=order.id, expected=Status.ROUTING, to=Status.BUILDING
        )
        socket.inbox.put_nowait({"type": EVENT_TYPE, "event": event_message(live)})
        return await read(order_id, key, after)

    monkeypatch.setattr("orders.consumers._history", history_after_a_live_event)
    communicator = WebsocketCommunicator(application, f"/ws/orders/{order.id}/", subprotocols=["token", mallory.key])
    connected, _ = await communicator.connect()
    assert connected

    assert (await communicator.receive_json_from())["error"]["code"] == 4404
    assert (await communicator.receive_output(timeout=5))["code"] == 4404
    assert await communicator.receive_nothing(timeout=0.2)
    assert str(order.id) not in order_event_hub().orders
    await communicator.disconnect()


async def test_a_final_event_the_layer_lost_reaches_the_subscriber_at_the_check_after_the_one_that_read_it(settings):
    settings.ORDER_STREAM_CHECK_SECONDS = 3600  # the test runs the hub's checks itself
    order = await _order_with_events(Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED)
    communicator = await _subscriber(order, f"/ws/orders/{order.id}/")
    await communicator.connect()
    assert [(await communicator.receive_json_from())["seq"] for _ in range(4)] == [1, 2, 3, 4]
    # Stored, but its publish lost: no later event will show the gap.
    await _append_silently(order, 5, Status.CONFIRMED)

    await order_event_hub().check_stored()
    assert await communicator.receive_nothing(timeout=0.2)
    await order_event_hub().check_stored()

    last = await communicator.receive_json_from(timeout=5)
    assert (last["seq"], last["status"]) == (5, "confirmed")
    assert (await communicator.receive_output(timeout=5))["code"] == 1000
    await communicator.disconnect()

"""The order status stream: every stored event, then the live ones, each once and in order."""

import asyncio
import contextlib
import time
from collections import deque
from typing import NamedTuple
from urllib.parse import parse_qs
from uuid import UUID

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.utils import await_many_dispatch
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from orders import metrics
from orders.authentication import active_account
from orders.fanout import order_event_hub
from orders.publisher import event_message
from orders.selectors import order_events_after, order_stream_start
from orders.states import TERMINAL
from orders.ws_auth import offered_subprotocol, token_key


class CloseCode:
    """WebSocket close codes of the stream (4000-4999 is the application's range)."""

    FINISHED = 1000
    BAD_REQUEST = 4400
    UNAUTHENTICATED = 4401
    # Also for another account's order, so ids cannot be probed.
    NOT_FOUND = 4404
    # A client message over WEBSOCKET_CLIENT_MESSAGE_MAX_BYTES. It means what 1009 means, but daphne
    # (autobahn) lets an application close only with 1000 or 3000-4999, so it mirrors HTTP's 413.
    MESSAGE_TOO_BIG = 4413
    # More than WEBSOCKET_CLIENT_MESSAGE_BUDGET messages within WEBSOCKET_CLIENT_MESSAGE_WINDOW seconds.
    TOO_MANY_MESSAGES = 4429
    # Never sent by the consumer: daphne drops the TCP connection, without a close frame, on a text
    # message that is not UTF-8 or one over its --websocket-max-message-size (1 MiB by default),
    # and the client reports 1006.
    DROPPED = 1006


def _in_thread_pool(func):
    """Run a database helper on the loop's thread pool, not on the one thread that
    database_sync_to_async otherwise shares across every socket of the process: a burst of
    connecting subscribers then queries in parallel, each thread with a connection of its own."""
    return database_sync_to_async(func, thread_sensitive=False)


class History(NamedTuple):
    """What a new subscriber's one look-up finds: its account, and the order's stored events if it is theirs."""

    account: AbstractBaseUser | None
    events: list[dict] | None = None  # None when the order is not the account's
    finished: bool = False  # whether the order had finished before its events were read


@_in_thread_pool
def _history(order_id: UUID, key: str | None, after: int) -> History:
    """The account `key` is the token of, and the stored events of its order after `after`: a subscriber
    costs one hop to the thread pool, where looking its token up apart would take a second."""
    start = order_stream_start(key=key, order_id=order_id, after=after)
    if start.account is None or start.status is None:
        return History(start.account)
    return History(start.account, [event_message(event) for event in start.events], start.status in TERMINAL)


# Only for a socket refused for its request: whether to say it is unauthenticated first.
_account = _in_thread_pool(active_account)


@_in_thread_pool
def _events_after(order_id: UUID, after: int) -> list[dict]:
    return [event_message(event) for event in order_events_after(order_id=order_id, after=after)]


def _count_subscriber(amount: int) -> None:
    # Counted on the background thread: a socket need not wait for Redis to count itself.
    metrics.count_soon("websocket_subscribers", "", amount)


class OrderStreamConsumer(AsyncJsonWebsocketConsumer):
    order_id: UUID | None = None
    last_seq = 0
    finished = False
    counted = False  # among the subscribers the metrics count

    async def __call__(self, scope, receive, send) -> None:
        """AsyncConsumer's, with the live events from the process's hub (orders.fanout) rather than from
        a channel of the socket's own: the messages of the client and of the hub, one at a time."""
        self.scope = scope
        self.base_send = send
        self.inbox: asyncio.Queue = asyncio.Queue()
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive, self.inbox.get], self.dispatch)

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, without its close_old_connections around every message.

        That is a hop to the one thread sync_to_async shares, for each message of each socket: every
        live event of every subscriber queued behind all the others there. This consumer reaches the
        database only through _in_thread_pool, which closes stale connections around each look-up.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        # When the latest messages of the client arrived, as many as make one over the budget.
        self.received_at: deque[float] = deque(maxlen=settings.WEBSOCKET_CLIENT_MESSAGE_BUDGET + 1)
        self.subprotocol = offered_subprotocol(self.scope)
        key = token_key(self.scope)
        query = parse_qs(self.scope["query_string"].decode("latin-1"))
        raw_id = self.scope["url_route"]["kwargs"].get("order_id") or query.get("orderId", [""])[0]
        after = query.get("after", ["0"])[0]
        try:
            order_id = UUID(raw_id)
        except ValueError:
            return await self._refuse_request(key, f"orderId {raw_id[:64]!r} is not a UUID")
        if not after.isdigit() or len(after) > 9:
            return await self._refuse_request(key, "after must be a non-negative integer")

        # Join the group before reading history: an event committed meanwhile then arrives
        # live or from the database, and the seq check drops whichever copy comes second. Whose
        # token it is and whether the order is theirs are read with the history; until then nothing
        # is sent, and a live event of the order waits in the inbox (messages are handled one at a
        # time), to be dropped if it is not theirs.
        self.order_id = order_id
        self.last_seq = int(after)
        await order_event_hub().subscribe(str(order_id), self)
        try:
            await self.accept(self.subprotocol)
            history = await _history(order_id, key, self.last_seq)
            if history.account is None:
                # Closed before anything is sent: not even whether the order exists.
                await self.disconnect(CloseCode.UNAUTHENTICATED)
                return await self.close(code=CloseCode.UNAUTHENTICATED)
            if history.events is None:
                await self.disconnect(CloseCode.NOT_FOUND)
                return await self._fail(CloseCode.NOT_FOUND, f"order {order_id} not found")
            self.counted = True
            _count_subscriber(1)
            for event in history.events:
                await self._send_event(event)
        except BaseException:
            # The error ends this consumer, and no disconnect follows it: it leaves the hub now.
            await self.disconnect(CloseCode.DROPPED)
            raise
        if history.finished and not self.finished:
            # `after` is already past the last event.
            self.finished = True
            await self.close(code=CloseCode.FINISHED)

    async def websocket_disconnect(self, message: dict) -> None:
        """Channels' websocket_disconnect, without its close_old_connections after disconnect().

        That is a hop to the one thread sync_to_async shares, for every socket that closes, to tidy
        that thread's database connections, which this consumer never uses (see dispatch). The
        socket joins no Channels group of its own (the hub does), so it has none to leave either.
        """
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        if self.counted:
            self.counted = False
            _count_subscriber(-1)
        if self.order_id is not None:
            order_id, self.order_id = self.order_id, None
            await order_event_hub().unsubscribe(str(order_id), self)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """The stream is one-way: what a client sends is not parsed, only measured and counted."""
        if self.finished:
            return
        limit = settings.WEBSOCKET_CLIENT_MESSAGE_MAX_BYTES
        if len(bytes_data if text_data is None else text_data.encode()) > limit:
            return await self._fail(CloseCode.MESSAGE_TOO_BIG, f"a message may have at most {limit} bytes")
        self.received_at.append(time.monotonic())
        window = settings.WEBSOCKET_CLIENT_MESSAGE_WINDOW
        if len(self.received_at) == self.received_at.maxlen and self.received_at[-1] - self.received_at[0] < window:
            budget = settings.WEBSOCKET_CLIENT_MESSAGE_BUDGET
            await self._fail(CloseCode.TOO_MANY_MESSAGES, f"more than {budget} messages within {window:g} s")

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        # Once the server closes, nothing more is sent and nothing more received is looked at.
        self.finished = True
        await super().close(code=code, reason=reason)

    async def order_event(self, message: dict) -> None:
        if self.finished:
            return
        event = message["event"]
        if event["seq"] > self.last_seq + 1:
            # The channel layer dropped something in between: the database has it.
            await self._replay()
        else:
            await self._send_event(event, message.get("text"))

    async def order_replay(self, message: dict) -> None:
        """The hub lost the channel layer for a while: what was published meanwhile is in the database."""
        if not self.finished:
            await self._replay()

    async def _replay(self) -> None:
        for event in await _events_after(self.order_id, self.last_seq):
            await self._send_event(event)

    async def _send_event(self, event: dict, text: str | None = None) -> None:
        """Send one event, unless already sent; `text`: the event as JSON, when the publisher encoded it."""
        if self.finished or event["seq"] <= self.last_seq:
            return
        await self.send(text_data=text or await self.encode_json(event))
        self.last_seq = event["seq"]
        if event["status"] in TERMINAL:
            self.finished = True
            await self.close(code=CloseCode.FINISHED)

    async def _refuse_request(self, key: str | None, reason: str) -> None:
        """Refuse a malformed request; an unauthenticated one is told only that. Accepted first: a socket
        closed during the handshake only shows the client an HTTP 403."""
        await self.accept(self.subprotocol)
        if await _account(key) is None:
            return await self.close(code=CloseCode.UNAUTHENTICATED)
        await self._fail(CloseCode.BAD_REQUEST, reason)

    async def _fail(self, code: int, reason: str) -> None:
        # daphne sends no close reason, so the reason travels in a message first.
        await self.send_json({"error": {"code": code, "reason": reason}})
        await self.close(code=code, reason=reason)

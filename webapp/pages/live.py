"""One way to do live updates: a page subscribes to a topic over SSE (htmx's ``sse``
extension) and receives server-rendered HTML fragments that replace a part of the page.

A use case's page handler calls :meth:`LiveHub.publish` after its commit; every open page on the
topic re-renders its fragment. A heartbeat re-renders it anyway every ``HEARTBEAT_SECONDS``, so
changes made elsewhere (the API, the CLI, the scheduler tick, another web instance) still show
up without a reload. Fanning out across instances through Redis pub/sub is the production step
this hub leaves open (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from litestar.response import ServerSentEvent
from litestar.types import SSEData

HEARTBEAT_SECONDS = 30.0
LIFETIME_SECONDS = 120.0
"""A stream ends after this long and the browser reconnects (EventSource does so by itself).
An endless response would hold a web process's graceful shutdown open forever."""
RECONNECT_MS = 1000


class LiveHub:
    """In-process topics: each subscriber has a queue that is woken on every publish."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[None]]] = defaultdict(set)

    def publish(self, topic: str) -> None:
        """Wake every page on ``topic`` (call after the change has been committed)."""
        for queue in list(self._subscribers.get(topic, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def subscribers(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    @contextlib.contextmanager
    def _subscription(self, topic: str) -> Iterator[asyncio.Queue[None]]:
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)  # wake-ups coalesce
        self._subscribers[topic].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[topic].discard(queue)
            if not self._subscribers[topic]:
                del self._subscribers[topic]

    def stream(
        self,
        topic: str,
        fragments: Callable[[], Awaitable[list[tuple[str, str]]]],
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        lifetime: float = LIFETIME_SECONDS,
    ) -> ServerSentEvent:
        """An SSE response: on every wake-up (and heartbeat), each ``(event, html)`` pair that
        ``fragments()`` renders is sent; the page's ``sse-swap="event"`` element takes it."""

        async def events() -> AsyncIterator[SSEData]:
            loop = asyncio.get_running_loop()
            ends = loop.time() + lifetime
            with self._subscription(topic) as queue:
                while (left := ends - loop.time()) > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.get(), timeout=min(heartbeat, left))
                    for event, html in await fragments():
                        yield {"event": event, "data": html}

        return ServerSentEvent(
            events(), retry_duration=RECONNECT_MS, headers={"Cache-Control": "no-store"}
        )

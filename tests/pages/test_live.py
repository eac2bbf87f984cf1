"""The live hub: a publish wakes every open page on the topic, and only those."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.response import ServerSentEvent

from webapp.pages.live import LiveHub


def events(response: ServerSentEvent) -> Any:
    """The generator of ``{"event", "data"}`` messages behind the SSE response."""
    iterator: Any = response.iterator
    return iterator.content_async_iterator


async def test_publish_wakes_subscribers_of_the_topic_only() -> None:
    hub = LiveHub()
    renders = {"a": 0, "b": 0}

    def fragments(topic: str) -> Callable[[], Awaitable[list[tuple[str, str]]]]:
        async def render() -> list[tuple[str, str]]:
            renders[topic] += 1
            return [("part", f"<p>{topic} {renders[topic]}</p>")]

        return render

    stream_a = events(hub.stream("a", fragments("a"), heartbeat=60))
    stream_b = events(hub.stream("b", fragments("b"), heartbeat=60))
    next_a = asyncio.ensure_future(anext(stream_a))
    next_b = asyncio.ensure_future(anext(stream_b))
    await asyncio.sleep(0.05)
    assert hub.subscribers("a") == 1 and hub.subscribers("b") == 1
    hub.publish("a")
    hub.publish("a")  # wake-ups coalesce: one render per wake
    event = await asyncio.wait_for(next_a, timeout=5)
    assert event == {"event": "part", "data": "<p>a 1</p>"}
    await asyncio.sleep(0.05)
    assert not next_b.done()  # another topic stays asleep
    next_b.cancel()
    await stream_a.aclose()
    await asyncio.sleep(0)
    assert hub.subscribers("a") == 0


async def test_the_heartbeat_renders_changes_made_elsewhere() -> None:
    hub = LiveHub()

    async def render() -> list[tuple[str, str]]:
        return [("part", "<p>fresh</p>")]

    stream = events(hub.stream("t", render, heartbeat=0.05))
    event = await asyncio.wait_for(anext(stream), timeout=5)
    assert event["data"] == "<p>fresh</p>"
    await stream.aclose()


async def test_a_stream_ends_after_its_lifetime_for_the_browser_to_reconnect() -> None:
    hub = LiveHub()

    async def render() -> list[tuple[str, str]]:
        return [("part", "<p>x</p>")]

    stream = events(hub.stream("t", render, heartbeat=0.01, lifetime=0.1))
    received = [event async for event in stream]
    assert 1 <= len(received) <= 20
    assert hub.subscribers("t") == 0

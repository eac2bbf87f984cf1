"""The HTTP protocol ``tenderhall serve`` runs: uvicorn's httptools protocol, minus two copies.

uvicorn appends every piece of a request body to a ``bytearray`` and hands the application
``bytes(...)`` of it: two copies of every body byte on the event loop's thread, which for bid
uploads (gigabytes at a time) was a tenth of that thread's work. Here a piece that arrives
while nothing is waiting is kept as the ``bytes`` object the parser made, and uvicorn's
``bytes(...)`` of an exact ``bytes`` object returns it without a copy. Pieces that arrive
before the application asks for the last one are still joined (one copy), and the flow control
(stop reading above ``HIGH_WATER_LIMIT``) is uvicorn's.

This overrides one method of uvicorn's class and reads its attributes; the served end-to-end
tests upload bids through it, and ``tests/unit/test_http_protocol.py`` checks bodies survive
every way of arriving.
"""

from __future__ import annotations

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class BodyPassingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that passes a request-body piece on as it was parsed."""

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        if cycle.body:
            cycle.body += body
        else:
            # uvicorn types it as a bytearray; it only takes len() and bytes() of it.
            cycle.body = body  # type: ignore[assignment]
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

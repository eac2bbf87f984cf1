"""Request bodies reach the application intact through ``serve``'s HTTP protocol, however their
bytes arrive: whole, in many small writes, chunked, and several requests on one connection."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn

from webapp.http_protocol import BodyPassingHttpToolsProtocol

Scope = dict[str, Any]
Message = dict[str, Any]


async def digest_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answers with the SHA-256 and the length of the request body."""
    if scope["type"] != "http":
        return
    await asyncio.sleep(0.05)  # busy at first: pieces pile up meanwhile
    hasher, size, more, messages = hashlib.sha256(), 0, True, 0
    while more:
        message = await receive()
        body = message.get("body", b"")
        hasher.update(body)
        size += len(body)
        more = message.get("more_body", False)
        messages += 1
        if messages < 40:
            await asyncio.sleep(0.002)  # a slow reader: pieces pile up meanwhile
    answer = f"{hasher.hexdigest()} {size}".encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def server() -> AsyncIterator[int]:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()  # connections wait in the backlog until the server accepts them
    port: int = listening.getsockname()[1]
    config = uvicorn.Config(
        digest_app, http=BodyPassingHttpToolsProtocol, lifespan="off", log_config=None
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve(sockets=[listening]))
    yield port
    served.should_exit = True
    await task
    listening.close()


async def read_answer(reader: asyncio.StreamReader) -> tuple[str, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    digest, size = (await reader.readexactly(length)).decode().split()
    return digest, int(size)


def request(body_length: int, *, chunked: bool = False) -> bytes:
    framing = (
        b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {body_length}".encode()
    )
    return b"PUT /part HTTP/1.1\r\nHost: test\r\n" + framing + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("size", "piece", "pause"),
    [
        (5 * 1024 * 1024, 5 * 1024 * 1024, 0.0),  # whole
        (5 * 1024 * 1024, 256 * 1024, 0.0),  # above uvicorn's high-water mark: reading pauses
        (20_000, 1000, 0.002),  # separate small pieces, all before the first receive
        (64 * 1024 + 3, 7, 0.0),
    ],
)
async def test_a_body_written_in_pieces_of_any_size_arrives_whole(
    server: int, size: int, piece: int, pause: float
) -> None:
    body = os.urandom(size)
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(request(len(body)))
    for start in range(0, len(body), piece):
        writer.write(body[start : start + piece])
        await writer.drain()
        await asyncio.sleep(pause)
    assert await read_answer(reader) == (hashlib.sha256(body).hexdigest(), len(body))
    writer.close()


async def test_chunked_bodies_and_several_requests_on_one_connection(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    for size in (3 * 1024 * 1024 + 1, 0, 70_000):
        body = os.urandom(size)
        writer.write(request(size, chunked=True))
        for start in range(0, size, 100_000):
            piece = body[start : start + 100_000]
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        assert await read_answer(reader) == (hashlib.sha256(body).hexdigest(), size)
    writer.close()

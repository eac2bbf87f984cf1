"""Incremental BER reading and the few BER encodings the envelope writer needs.

The envelope is read as a stream so that a multi-GB bid never sits in memory: this module walks
the tag-length-value structure one header at a time. Small elements (recipient infos, algorithm
identifiers) are captured whole, with a size limit, and handed to asn1crypto; the encrypted
content is delivered piece by piece, whatever mix of primitive, constructed, definite and
indefinite-length OCTET STRINGs the writer used (X.690 §8.7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from signing.envelope_errors import MalformedEnvelopeError, TruncatedEnvelopeError

UNIVERSAL = 0
CONTEXT = 2

TAG_INTEGER = 2
TAG_OCTET_STRING = 4
TAG_OID = 6
TAG_SEQUENCE = 16
TAG_SET = 17

MAX_SMALL_ELEMENT = 1 << 20
"""Largest header element (recipient infos, originator info) read into memory: 1 MiB."""

_MAX_DEPTH = 32


class Readable(Protocol):
    """What the reader needs from a stream (files opened ``"rb"``, ``io.BytesIO``)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int | None: ...


@dataclass(frozen=True)
class Header:
    """The identifier and length octets of one BER element."""

    cls: int
    constructed: bool
    number: int
    length: int | None
    """Content length, or None for the indefinite form (ended by end-of-contents)."""
    raw: bytes
    """The header bytes as read, so that a captured element can be re-assembled exactly."""

    def is_(self, cls: int, number: int, constructed: bool | None = None) -> bool:
        return (
            self.cls == cls
            and self.number == number
            and (constructed is None or self.constructed == constructed)
        )

    @property
    def is_eoc(self) -> bool:
        return self.cls == UNIVERSAL and self.number == 0 and not self.constructed


class Frame:
    """A constructed element being walked: knows where it ends."""

    def __init__(self, reader: BerReader, header: Header) -> None:
        if not header.constructed:
            raise MalformedEnvelopeError("a constructed element was expected")
        self._reader = reader
        self._end = None if header.length is None else reader.position + header.length
        self._done = False

    def next(self) -> Header | None:
        """The next child's header, or None once the element has ended."""
        if self._done:
            return None
        if self._end is not None:
            if self._reader.position == self._end:
                self._done = True
                return None
            if self._reader.position > self._end:
                raise MalformedEnvelopeError("an element overruns its parent")
        header = self._reader.read_header()
        if header.is_eoc:
            if self._end is not None or header.length != 0:
                raise MalformedEnvelopeError("misplaced end-of-contents")
            self._done = True
            return None
        return header

    def expect(self, what: str) -> Header:
        header = self.next()
        if header is None:
            raise MalformedEnvelopeError(f"{what} is missing")
        return header

    def finish(self, what: str) -> None:
        if self.next() is not None:
            raise MalformedEnvelopeError(f"unexpected data at the end of {what}")


class BerReader:
    """Reads BER from a binary stream, counting the bytes consumed."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self.position = 0

    def read_exact(self, n: int) -> bytes:
        data = self._stream.read(n) if n else b""
        if len(data) != n:
            raise TruncatedEnvelopeError()
        self.position += n
        return data

    def readinto_exact(self, view: memoryview) -> None:
        got = 0
        while got < len(view):
            n = self._stream.readinto(view[got:])
            if not n:
                raise TruncatedEnvelopeError()
            got += n
        self.position += got

    def read_header(self) -> Header:
        first = self.read_exact(1)
        raw = bytearray(first)
        cls = first[0] >> 6
        constructed = bool(first[0] & 0x20)
        number = first[0] & 0x1F
        if number == 0x1F:  # high-tag-number form
            number = 0
            while True:
                octet = self.read_exact(1)
                raw += octet
                number = (number << 7) | (octet[0] & 0x7F)
                if not octet[0] & 0x80:
                    break
                if len(raw) > 6:
                    raise MalformedEnvelopeError("tag number too large")
        octet = self.read_exact(1)
        raw += octet
        length: int | None
        if octet[0] < 0x80:
            length = octet[0]
        elif octet[0] == 0x80:
            if not constructed:
                raise MalformedEnvelopeError("indefinite length on a primitive element")
            length = None
        else:
            count = octet[0] & 0x7F
            if count > 8:
                raise MalformedEnvelopeError("length field too long")
            more = self.read_exact(count)
            raw += more
            length = int.from_bytes(more, "big")
        return Header(cls, constructed, number, length, bytes(raw))

    def read_body(self, header: Header, limit: int = MAX_SMALL_ELEMENT) -> bytes:
        """The whole element (header included) as bytes, for a small element."""
        out = bytearray(header.raw)
        self._capture(header, out, limit, 0)
        return bytes(out)

    def _capture(self, header: Header, out: bytearray, limit: int, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise MalformedEnvelopeError("nesting too deep")
        if header.length is not None:
            if len(out) + header.length > limit:
                raise MalformedEnvelopeError("a header element is too large")
            out += self.read_exact(header.length)
            return
        while True:
            child = self.read_header()
            out += child.raw
            if len(out) > limit:
                raise MalformedEnvelopeError("a header element is too large")
            if child.is_eoc:
                return
            self._capture(child, out, limit, depth + 1)

    def skip(self, header: Header) -> None:
        """Skip a small element (bounded like :meth:`read_body`)."""
        self.read_body(header)

    def stream_octets(
        self, header: Header, buffer: memoryview, sink: Callable[[memoryview], None]
    ) -> int:
        """Deliver the content octets of an OCTET STRING (any BER form) to ``sink``.

        ``buffer`` bounds the memory: each call of ``sink`` gets at most ``len(buffer)`` bytes,
        a view into ``buffer`` that is only valid during the call. Returns the octet count.
        """
        return self._stream_octets(header, buffer, sink, 0)

    def _stream_octets(
        self,
        header: Header,
        buffer: memoryview,
        sink: Callable[[memoryview], None],
        depth: int,
    ) -> int:
        if depth > _MAX_DEPTH:
            raise MalformedEnvelopeError("nesting too deep")
        if not header.constructed:
            assert header.length is not None  # primitive elements always have a definite length
            remaining = header.length
            size = len(buffer)
            while remaining:
                n = min(remaining, size)
                piece = buffer[:n]
                self.readinto_exact(piece)
                sink(piece)
                remaining -= n
            return header.length
        total = 0
        frame = Frame(self, header)
        while (child := frame.next()) is not None:
            if not child.is_(UNIVERSAL, TAG_OCTET_STRING):
                raise MalformedEnvelopeError(
                    "a segment of the encrypted content is not an OCTET STRING"
                )
            total += self._stream_octets(child, buffer, sink, depth + 1)
        return total


def encode_length(n: int) -> bytes:
    """DER length octets for ``n``."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def octet_string_header(n: int) -> bytes:
    """Header of a primitive OCTET STRING segment of ``n`` bytes."""
    return b"\x04" + encode_length(n)

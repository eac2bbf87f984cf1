"""The sealed bid (数字信封): a streaming CMS AuthEnvelopedData with AES-256-GCM.

Standards: RFC 5652 (CMS), RFC 5083 (AuthEnvelopedData), RFC 5084 (AES-GCM in CMS). The envelope
is written as indefinite-length BER with the ciphertext in OCTET STRING segments, so sealing never
needs the whole file in memory; reading walks the same structure incrementally. Both directions
interoperate with ``openssl cms -encrypt/-decrypt -aes-256-gcm``.

Plaintext is released only after the GCM tag verifies: it is written to a temporary file next to
the output, and renamed into place only then; on any failure the temporary file is deleted, so a
partial or forged plaintext never appears under the output name.

The content key can also be unwrapped on its own from the envelope's header (the first few KB),
which is how a bidder hands its key to the platform at the opening without downloading the bid.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from asn1crypto import algos, cms, core
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import GCM
from cryptography.x509 import Certificate

from signing.envelope_ber import (
    CONTEXT,
    TAG_INTEGER,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    TAG_SET,
    UNIVERSAL,
    BerReader,
    Frame,
    Header,
    Readable,
    octet_string_header,
)
from signing.envelope_errors import (
    MalformedEnvelopeError,
    NotCmsError,
    TamperedEnvelopeError,
    TruncatedEnvelopeError,
    UnsupportedAlgorithmError,
    WrongContentTypeError,
)
from signing.envelope_recipients import (
    PrivateKey,
    build_recipient_infos,
)
from signing.envelope_recipients import (
    unwrap_content_key as _unwrap_from_infos,
)

AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
ID_DATA = "1.2.840.113549.1.7.1"
CHUNK_SIZE = 1 << 20
"""Bytes of ciphertext per OCTET STRING segment, and of plaintext read at a time: 1 MiB."""

_GCM_KEY_SIZES = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}
_NONCE_SIZE = 12
_TAG_SIZE = 16

Progress = Callable[[int], None]
"""Called with the number of plaintext bytes processed so far."""


@dataclass(frozen=True)
class SealSummary:
    """What :func:`seal` wrote."""

    plaintext_size: int
    envelope_size: int
    recipients: int


@dataclass(frozen=True)
class UnsealSummary:
    """What :func:`unseal` or :func:`decrypt_with_content_key` released."""

    plaintext_size: int
    content_type: str
    """The inner content type's OID; ``1.2.840.113549.1.7.1`` (id-data) for a bid package."""
    algorithm: str
    """The content-encryption algorithm, e.g. ``aes256_gcm``."""


@dataclass(frozen=True)
class _EnvelopeHeader:
    recipient_infos: cms.RecipientInfos
    content_type: str
    algorithm: str
    nonce: bytes
    tag_size: int
    key_size: int


class _GcmParameters(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """GCMParameters (RFC 5084 §3.2); asn1crypto does not define it."""

    _fields = [  # noqa: RUF012 - asn1crypto's declarative schema
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


def _oid_der(dotted: str) -> bytes:
    der: bytes = core.ObjectIdentifier(dotted).dump()
    return der


# --- sealing ----------------------------------------------------------------------------------


def seal_stream(
    source: Readable,
    sink: BinaryIO,
    recipients: Sequence[Certificate],
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> SealSummary:
    """Encrypt ``source`` to ``sink`` as an AuthEnvelopedData for every recipient certificate."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    cek = os.urandom(32)
    nonce = os.urandom(_NONCE_SIZE)
    infos = build_recipient_infos(recipients, cek)
    algorithm = algos.EncryptionAlgorithm(
        {
            "algorithm": "aes256_gcm",
            "parameters": _GcmParameters({"aes_nonce": nonce, "aes_icvlen": _TAG_SIZE}),
        }
    )
    header = b"".join(
        [
            b"\x30\x80",  # ContentInfo
            _oid_der(AUTH_ENVELOPED_DATA),
            b"\xa0\x80",  # [0] EXPLICIT content
            b"\x30\x80",  # AuthEnvelopedData
            b"\x02\x01\x00",  # version 0
            infos.dump(),
            b"\x30\x80",  # EncryptedContentInfo
            _oid_der(ID_DATA),
            algorithm.dump(),
            b"\xa0\x80",  # [0] IMPLICIT encryptedContent, constructed, in segments
        ]
    )
    sink.write(header)
    written = len(header)
    encryptor = Cipher(AES(cek), GCM(nonce)).encryptor()
    inbuf = bytearray(chunk_size)
    outbuf = bytearray(chunk_size + 15)  # update_into wants block_size - 1 spare bytes
    inview, outview = memoryview(inbuf), memoryview(outbuf)
    total = 0
    while True:
        n = _read_full(source, inview)
        if not n:
            break
        m = encryptor.update_into(inview[:n], outbuf)
        segment_header = octet_string_header(m)
        sink.write(segment_header)
        sink.write(outview[:m])
        written += len(segment_header) + m
        total += n
        if progress is not None:
            progress(total)
        if n < chunk_size:
            break
    encryptor.finalize()
    tag = encryptor.tag
    trailer = b"".join(
        [
            b"\x00\x00",  # end of encryptedContent
            b"\x00\x00",  # end of EncryptedContentInfo
            b"\x04" + bytes([len(tag)]) + tag,  # mac
            b"\x00\x00\x00\x00\x00\x00",  # end of AuthEnvelopedData, [0], ContentInfo
        ]
    )
    sink.write(trailer)
    written += len(trailer)
    return SealSummary(total, written, len(infos))


def _read_full(source: Readable, view: memoryview) -> int:
    """Fill ``view`` unless the source ends first (pipes return short reads)."""
    got = 0
    while got < len(view):
        n = source.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def seal(
    source: Path,
    out: Path,
    recipients: Sequence[Certificate],
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Progress | None = None,
) -> SealSummary:
    """Seal the file ``source`` into ``out`` (written to a temporary file, then renamed)."""
    with source.open("rb") as src, _atomic_output(out) as sink:
        behind = _WriteBehind(sink)
        try:
            summary = seal_stream(
                src, cast(BinaryIO, behind), recipients, chunk_size=chunk_size, progress=progress
            )
        finally:
            behind.close()
        return summary


class _WriteBehind:
    """Writes a file on a thread of its own and starts its writeback to disk as it goes.

    Encrypting the next chunk then overlaps writing the last ones, and the final ``fsync`` has
    little left to wait for. Memory: at most ``depth`` chunks queued.
    """

    def __init__(self, sink: BinaryIO, *, depth: int = 4, writeback_every: int = 32 << 20):
        self._sink = sink
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._writeback_every = writeback_every
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="envelope-writer", daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._error is not None:
            raise self._error
        self._queue.put(bytes(data))  # a copy: the caller reuses its buffer
        return len(data)

    def _run(self) -> None:
        written = started = 0
        try:
            while (item := self._queue.get()) is not None:
                self._sink.write(item)
                written += len(item)
                if written - started >= self._writeback_every and hasattr(os, "posix_fadvise"):
                    self._sink.flush()
                    # Linux starts writing back the dirty range on DONTNEED, without waiting.
                    os.posix_fadvise(
                        self._sink.fileno(), started, written - started, os.POSIX_FADV_DONTNEED
                    )
                    started = written
        except BaseException as exc:  # reported to the sealing thread on its next write/close
            self._error = exc
            while self._queue.get() is not None:  # keep draining so the producer never blocks
                pass

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


@contextlib.contextmanager
def _atomic_output(out: Path) -> Iterator[BinaryIO]:
    """A file next to ``out`` that becomes ``out`` only if the block succeeds."""
    out = Path(out)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        tmp.replace(out)
        _fsync_directory(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable too (POSIX: the directory entry lives in the directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the data itself is already synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- reading the header -----------------------------------------------------------------------


def _read_envelope_header(reader: BerReader) -> tuple[_EnvelopeHeader, list[Frame], Header]:
    """Walk up to the encrypted content; return the header, the open frames and its header."""
    try:
        first = reader.read_header()
    except MalformedEnvelopeError as exc:
        raise NotCmsError("not DER/BER") from exc
    except TruncatedEnvelopeError as exc:
        if reader.position == 0:
            raise NotCmsError("the file is empty") from exc
        raise
    if not first.is_(UNIVERSAL, TAG_SEQUENCE, constructed=True):
        raise NotCmsError("it does not start with an ASN.1 SEQUENCE")
    content_info = Frame(reader, first)
    oid_header = content_info.next()
    if oid_header is None or not oid_header.is_(UNIVERSAL, TAG_OID, constructed=False):
        raise NotCmsError("no content type")
    content_type = _parse_oid(reader.read_body(oid_header))
    if content_type != AUTH_ENVELOPED_DATA:
        name = cms.ContentType.map(content_type) if content_type in cms.ContentType._map else None
        raise WrongContentTypeError(name or content_type)
    explicit = content_info.expect("the content")
    if not explicit.is_(CONTEXT, 0, constructed=True):
        raise MalformedEnvelopeError("the content is not tagged [0]")
    content = Frame(reader, explicit)
    seq = content.expect("AuthEnvelopedData")
    if not seq.is_(UNIVERSAL, TAG_SEQUENCE, constructed=True):
        raise MalformedEnvelopeError("AuthEnvelopedData is not a SEQUENCE")
    aed = Frame(reader, seq)
    version = aed.expect("the version")
    if not version.is_(UNIVERSAL, TAG_INTEGER, constructed=False):
        raise MalformedEnvelopeError("no version")
    if core.Integer.load(reader.read_body(version)).native != 0:
        raise UnsupportedAlgorithmError("AuthEnvelopedData version other than 0")
    item = aed.expect("the recipient infos")
    if item.is_(CONTEXT, 0, constructed=True):  # originatorInfo: certificates we do not need
        reader.skip(item)
        item = aed.expect("the recipient infos")
    if not item.is_(UNIVERSAL, TAG_SET, constructed=True):
        raise MalformedEnvelopeError("no recipient infos")
    try:
        infos = cms.RecipientInfos.load(reader.read_body(item))
        len(infos)  # asn1crypto parses lazily: force it here, where errors are expected
    except (ValueError, TypeError) as exc:
        raise MalformedEnvelopeError("unreadable recipient infos") from exc
    eci_header = aed.expect("the encrypted content info")
    if not eci_header.is_(UNIVERSAL, TAG_SEQUENCE, constructed=True):
        raise MalformedEnvelopeError("no encrypted content info")
    eci = Frame(reader, eci_header)
    inner = eci.expect("the inner content type")
    if not inner.is_(UNIVERSAL, TAG_OID, constructed=False):
        raise MalformedEnvelopeError("no inner content type")
    inner_type = _parse_oid(reader.read_body(inner))
    alg_header = eci.expect("the content-encryption algorithm")
    if not alg_header.is_(UNIVERSAL, TAG_SEQUENCE, constructed=True):
        raise MalformedEnvelopeError("no content-encryption algorithm")
    algorithm, nonce, tag_size, key_size = _parse_content_algorithm(reader.read_body(alg_header))
    content_header = eci.next()
    if content_header is None or not content_header.is_(CONTEXT, 0):
        raise UnsupportedAlgorithmError("detached encrypted content")
    header = _EnvelopeHeader(infos, inner_type, algorithm, nonce, tag_size, key_size)
    return header, [content_info, content, aed, eci], content_header


def _parse_oid(der: bytes) -> str:
    try:
        return str(core.ObjectIdentifier.load(der).dotted)
    except ValueError as exc:
        raise MalformedEnvelopeError("bad object identifier") from exc


def _parse_content_algorithm(der: bytes) -> tuple[str, bytes, int, int]:
    try:
        algorithm = algos.EncryptionAlgorithm.load(der)
        name = algorithm["algorithm"].native
    except ValueError as exc:
        raise MalformedEnvelopeError("bad content-encryption algorithm") from exc
    if name not in _GCM_KEY_SIZES:
        raise UnsupportedAlgorithmError(f"content encryption {name} (AES-GCM only)")
    try:
        params = _GcmParameters.load(algorithm["parameters"].dump())
        nonce = params["aes_nonce"].native
        tag_size = params["aes_icvlen"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedEnvelopeError("bad GCM parameters") from exc
    if not nonce or tag_size not in range(12, 17):
        raise UnsupportedAlgorithmError(f"GCM with a {tag_size}-byte tag")
    return str(name), bytes(nonce), int(tag_size), _GCM_KEY_SIZES[str(name)]


# --- opening ----------------------------------------------------------------------------------


def _source(
    envelope: Path | Readable, buffering: int
) -> contextlib.AbstractContextManager[Readable]:
    if isinstance(envelope, Path):
        return io.BufferedReader(io.FileIO(envelope, "rb"), buffer_size=buffering)
    return contextlib.nullcontext(envelope)


def unwrap_content_key(
    envelope: Path | Readable, key: PrivateKey, certificate: Certificate | None = None
) -> bytes:
    """The content-encryption key, unwrapped from this key's recipient info.

    Reads only the envelope's header (recipient infos and algorithm, a few KB), never the
    encrypted content: a stream holding just the first bytes is enough.
    """
    with _source(envelope, io.DEFAULT_BUFFER_SIZE) as stream:
        header, _, _ = _read_envelope_header(BerReader(stream))
    cek = _unwrap(header, key, certificate)
    _check_key_size(cek, header)
    return cek


def read_recipient_infos(envelope: Path | Readable) -> cms.RecipientInfos:
    """The recipient infos of an envelope, reading only its header (a few KB); raises an
    :class:`~signing.envelope_errors.EnvelopeError` if it is not a well-formed
    AuthEnvelopedData with AES-GCM content encryption."""
    with _source(envelope, io.DEFAULT_BUFFER_SIZE) as stream:
        header, _, _ = _read_envelope_header(BerReader(stream))
    return header.recipient_infos


def _unwrap(header: _EnvelopeHeader, key: PrivateKey, certificate: Certificate | None) -> bytes:
    try:
        return _unwrap_from_infos(header.recipient_infos, key, certificate, header.key_size)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # asn1crypto parses nested fields lazily: a damaged recipient info surfaces here.
        raise MalformedEnvelopeError("unreadable recipient info") from exc


def _check_key_size(cek: bytes, header: _EnvelopeHeader) -> None:
    if len(cek) != header.key_size:
        # A wrong RSA key under PKCS#1 v1.5 can yield random bytes of some length; the
        # tag would catch it later, but a length mismatch is already proof.
        raise TamperedEnvelopeError()


def unseal(
    envelope: Path | Readable,
    out: Path,
    key: PrivateKey,
    certificate: Certificate | None = None,
    *,
    progress: Progress | None = None,
) -> UnsealSummary:
    """Decrypt the envelope into ``out``; ``out`` appears only once the GCM tag verified."""
    return _open(envelope, out, lambda h: _unwrap(h, key, certificate), progress)


def decrypt_with_content_key(
    envelope: Path | Readable, content_key: bytes, out: Path, *, progress: Progress | None = None
) -> UnsealSummary:
    """Decrypt with a content key released by a recipient (see :func:`unwrap_content_key`)."""
    return _open(envelope, out, lambda h: content_key, progress)


def _open(
    envelope: Path | Readable,
    out: Path,
    get_key: Callable[[_EnvelopeHeader], bytes],
    progress: Progress | None,
) -> UnsealSummary:
    with _source(envelope, CHUNK_SIZE) as stream, _atomic_output(out) as sink:
        return _decrypt(BerReader(stream), get_key, sink, progress)


def unseal_bytes(
    envelope: bytes,
    key: PrivateKey,
    certificate: Certificate | None = None,
    *,
    limit: int = 1 << 20,
) -> bytes:
    """Decrypt a small envelope (a custody share, a released key) in memory.

    The plaintext is returned only after the tag verified; envelopes whose content exceeds
    ``limit`` bytes are refused rather than buffered.
    """
    if len(envelope) > limit + 64 * 1024:
        raise MalformedEnvelopeError("too large to open in memory")
    sink = io.BytesIO()
    _decrypt(
        BerReader(io.BytesIO(envelope)),
        lambda h: _unwrap(h, key, certificate),
        sink,
        None,
    )
    return sink.getvalue()


def _decrypt(
    reader: BerReader,
    get_key: Callable[[_EnvelopeHeader], bytes],
    sink: BinaryIO,
    progress: Progress | None,
) -> UnsealSummary:
    """Decrypt into ``sink``; raises (and the caller discards ``sink``) unless the tag verifies."""
    header, frames, content_header = _read_envelope_header(reader)
    cek = get_key(header)
    _check_key_size(cek, header)
    decryptor = Cipher(AES(cek), GCM(header.nonce, min_tag_length=header.tag_size)).decryptor()
    outbuf = bytearray(CHUNK_SIZE + 15)
    outview = memoryview(outbuf)
    done = 0

    def consume(piece: memoryview) -> None:
        nonlocal done
        m = decryptor.update_into(piece, outbuf)
        sink.write(outview[:m])
        done += len(piece)
        if progress is not None:
            progress(done)

    size = reader.stream_octets(content_header, memoryview(bytearray(CHUNK_SIZE)), consume)
    mac = _read_trailer(reader, frames)
    if len(mac) != header.tag_size:
        raise MalformedEnvelopeError("the MAC length differs from the GCM parameters")
    try:
        decryptor.finalize_with_tag(mac)
    except InvalidTag as exc:
        raise TamperedEnvelopeError() from exc
    return UnsealSummary(size, header.content_type, header.algorithm)


def _read_trailer(reader: BerReader, frames: list[Frame]) -> bytes:
    """After the ciphertext: close the content info, read the MAC, close the rest."""
    content_info, content, aed, eci = frames
    eci.finish("the encrypted content info")
    item = aed.expect("the MAC")
    if item.is_(CONTEXT, 1):
        # GCM authenticates authAttrs *before* the ciphertext, but they come after it in the
        # stream: supporting them would mean buffering the whole bid. openssl does not write them.
        raise UnsupportedAlgorithmError("authenticated attributes")
    if not item.is_(UNIVERSAL, TAG_OCTET_STRING):
        raise MalformedEnvelopeError("no MAC")
    try:
        mac = bytes(core.OctetString.load(reader.read_body(item, limit=1024)).native)
    except ValueError as exc:
        raise MalformedEnvelopeError("bad MAC") from exc
    rest = aed.next()
    if rest is not None:
        if not rest.is_(CONTEXT, 2):
            raise MalformedEnvelopeError("unexpected data after the MAC")
        reader.skip(rest)  # unauthAttrs: not covered by the tag, so not trusted either
        aed.finish("AuthEnvelopedData")
    content.finish("the content")
    content_info.finish("the ContentInfo")
    return mac

"""Property tests: any size round-trips, and no damaged envelope ever opens to other bytes."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.envelope import seal_stream, unseal, unseal_bytes
from signing.envelope_errors import EnvelopeError
from tests.envelope.conftest import Identity

CHUNK = 64


def chunk_aligned_sizes() -> st.SearchStrategy[int]:
    """0, exact multiples of the chunk size and their neighbours, and anything up to 4 KiB."""
    boundary = st.builds(
        lambda k, d: max(0, k * CHUNK + d), st.integers(0, 40), st.sampled_from([-1, 0, 1])
    )
    return st.one_of(st.just(0), boundary, st.integers(0, 4096))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=chunk_aligned_sizes(), chunk=st.sampled_from([1, CHUNK, 1000]))
def test_any_size_seals_and_unseals(ec_bidder: Identity, size: int, chunk: int) -> None:
    data = os.urandom(size)
    sink = io.BytesIO()
    summary = seal_stream(io.BytesIO(data), sink, [ec_bidder.cert], chunk_size=chunk)
    assert summary.plaintext_size == size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.bin"
        opened = unseal(io.BytesIO(sink.getvalue()), out, ec_bidder.key, ec_bidder.cert)
        assert opened.plaintext_size == size
        assert out.read_bytes() == data


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_damaged_envelope_never_opens_to_different_bytes(
    rsa_bidder: Identity, ec_bidder: Identity, data: st.DataObject
) -> None:
    plaintext = data.draw(st.binary(max_size=300), label="plaintext")
    sink = io.BytesIO()
    seal_stream(io.BytesIO(plaintext), sink, [rsa_bidder.cert, ec_bidder.cert], chunk_size=100)
    envelope = bytearray(sink.getvalue())
    position = data.draw(st.integers(0, len(envelope) - 1), label="position")
    envelope[position] ^= data.draw(st.integers(1, 255), label="xor")
    who = data.draw(st.sampled_from([rsa_bidder, ec_bidder]), label="recipient")
    try:
        opened = unseal_bytes(bytes(envelope), who.key, who.cert)
    except EnvelopeError:
        return  # refused with a specific error: fine
    # A byte outside what GCM authenticates (e.g. the inner content type, or the other
    # recipient's info) may change without harm; the plaintext may not.
    assert opened == plaintext

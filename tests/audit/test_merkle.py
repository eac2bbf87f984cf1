"""The Merkle tree against published RFC 6962 vectors and an independent reference."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audit import rfc6962_reference as ref
from trading.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    consistency_proof,
    consistency_proof_nodes,
    frontier_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# Test vectors published by the Certificate Transparency project for RFC 6962 trees:
# transparency-dev/merkle (formerly google/certificate-transparency-go merkletree),
# testonly/constants.go (LeafInputs, NodeHashes, RootHashes, EmptyRootHash) and
# proof/verify_test.go (inclusionProofs, consistencyProofs; leaf numbers there are 1-based).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
CT_NODES = {
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}
# (leaf index, tree size, proof) with the index made 0-based.
CT_INCLUSION = [
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CT_CONSISTENCY = [
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]


def _entries(n: int) -> list[bytes]:
    return [f"event-{i}".encode() for i in range(n)]


def _tree(entries: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for entry in entries:
        tree.append(leaf_hash(entry))
    return tree


def _prefixes(proof: list[bytes]) -> list[str]:
    return [p.hex()[:8] for p in proof]


def test_empty_tree_and_leaf_hash_match_the_published_vectors() -> None:
    assert EMPTY_ROOT == CT_ROOTS[0] == hashlib.sha256(b"").digest()
    assert root_from_leaf_hashes([]) == CT_ROOTS[0]
    assert leaf_hash(b"") == CT_ROOTS[1]


def test_roots_for_sizes_0_to_8_match_the_published_vectors() -> None:
    tree = MemoryTree()
    assert tree.root() == CT_ROOTS[0]
    for n, entry in enumerate(CT_LEAVES, start=1):
        tree.append(leaf_hash(entry))
        assert tree.root() == CT_ROOTS[n], f"size {n}"
        assert ref.mth(CT_LEAVES[:n]) == CT_ROOTS[n], "the reference itself must agree"
    for n in range(9):
        assert root_at(n, tree.nodes.get) == CT_ROOTS[n]


def test_completed_subtrees_are_the_published_node_hashes() -> None:
    tree = _tree(CT_LEAVES)
    for (level, index), expected in CT_NODES.items():
        assert tree.nodes.get(level, index).hex() == expected
    assert tree.nodes.get(3, 0) == CT_ROOTS[8]
    assert len(tree.nodes) == 8 + 4 + 2 + 1


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(
    index: int, size: int, expected: list[str]
) -> None:
    tree = _tree(CT_LEAVES)
    proof = tree.inclusion_proof(index, size)
    assert _prefixes(proof) == expected
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize(("m", "n", "expected"), CT_CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(
    m: int, n: int, expected: list[str]
) -> None:
    tree = _tree(CT_LEAVES)
    proof = tree.consistency_proof(m, n)
    assert _prefixes(proof) == expected
    assert verify_consistency(m, n, CT_ROOTS[m], CT_ROOTS[n], proof)


def test_every_inclusion_proof_up_to_64_leaves_equals_the_reference_and_verifies() -> None:
    entries = _entries(64)
    tree = _tree(entries)
    for size in range(1, 65):
        root = ref.mth(entries[:size])
        assert tree.root(size) == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref.path(index, entries[:size]), (index, size)
            assert verify_inclusion(leaf_hash(entries[index]), index, size, proof, root)
            if size > 1:
                other = (index + 1) % size
                assert not verify_inclusion(leaf_hash(entries[other]), index, size, proof, root)


def test_every_consistency_proof_up_to_64_leaves_equals_the_reference_and_verifies() -> None:
    entries = _entries(64)
    tree = _tree(entries)
    roots = [ref.mth(entries[:n]) for n in range(65)]
    for n in range(65):
        for m in range(n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == ref.proof(m, entries[:n]), (m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            if 0 < m < n:
                # A different earlier tree (its last entry changed) is not a prefix.
                forged = ref.mth([*entries[: m - 1], b"forged"])
                assert not verify_consistency(m, n, forged, roots[n], proof)


Probe = tuple[int, int, bytes, bytes, list[bytes]]


def _corrupted_inclusions(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> Iterator[Probe]:
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    yield index - 1, size, root, leaf, proof
    yield index + 1, size, root, leaf, proof
    yield index ^ 2, size, root, leaf, proof
    yield index, size * 2, root, leaf, proof
    yield index, size // 2, root, leaf, proof
    yield index, size, root, some, proof
    yield index, size, EMPTY_ROOT, leaf, proof
    yield index, size, root, leaf, [*proof, root]
    yield index, size, root, leaf, [root, *proof]
    yield index, size, root, leaf, [*proof, b""]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 8]) + proof[i][1:]
        yield index, size, root, leaf, flipped
    if proof:
        yield index, size, root, leaf, proof[:-1]
    if len(proof) > 1:
        yield index, size, root, leaf, [proof[0], some, *proof[1:]]


def test_corrupted_inclusion_proofs_are_refused() -> None:
    entries = _entries(21)
    tree = _tree(entries)
    for size in (2, 3, 5, 8, 13, 21):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            leaf = leaf_hash(entries[index])
            for probe in _corrupted_inclusions(index, size, proof, root, leaf):
                verdict = verify_inclusion(probe[3], probe[0], probe[1], probe[4], probe[2])
                assert not verdict, (index, size, probe)
                assert verdict.code != "ok" and verdict.message_zh and verdict.message_en


def test_corrupted_consistency_proofs_are_refused() -> None:
    entries = _entries(21)
    tree = _tree(entries)
    for n in (3, 5, 8, 13, 21):
        for m in range(1, n):
            proof = tree.consistency_proof(m, n)
            r_m, r_n = tree.root(m), tree.root(n)
            probes = [
                (m, n, r_n, r_m, proof),
                (m, n, r_m, r_n, []),
                (m, n, r_m, r_n, [*proof, r_m]),
                (m, n, r_m, r_n, [r_m, *proof]),
                (m, n, r_m, r_n, proof[:-1]),
                (m, n * 2, r_m, r_n, proof),
                (m, n, r_m, EMPTY_ROOT, proof),
            ]
            for i in range(len(proof)):
                flipped = list(proof)
                flipped[i] = bytes([proof[i][0] ^ 16]) + proof[i][1:]
                probes.append((m, n, r_m, r_n, flipped))
            for probe in probes:
                assert not verify_consistency(*probe), (m, n, probe)


def test_edge_cases_of_consistency() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, b, [])
    assert not verify_consistency(0, 5, a, b, [])  # the empty tree has exactly one root
    assert verify_consistency(3, 3, a, a, [])
    assert not verify_consistency(3, 3, a, b, [])
    assert not verify_consistency(3, 3, a, a, [a])
    assert not verify_consistency(4, 3, a, b, [a])
    assert not verify_inclusion(a, 0, 0, [], a)
    assert not verify_inclusion(a, 0, 1, [], b"short")
    assert verify_inclusion(a, 0, 1, [], a)
    with pytest.raises(ValueError):
        inclusion_proof(3, 3, MemoryTree().nodes.get)
    with pytest.raises(ValueError):
        consistency_proof(4, 3, MemoryTree().nodes.get)


def test_changing_a_leaf_is_detected() -> None:
    entries = _entries(37)
    honest = _tree(entries)
    head = honest.root()
    tampered_entries = list(entries)
    tampered_entries[11] = b"event-11 but edited"
    tampered = _tree(tampered_entries)
    assert tampered.root() != head
    # The honest inclusion proof does not vouch for the edited entry ...
    proof = honest.inclusion_proof(11)
    assert not verify_inclusion(leaf_hash(tampered_entries[11]), 11, 37, proof, head)
    # ... and a log rewritten after publishing head 20 cannot prove it extends that head.
    head_20 = honest.root(20)
    grown = _tree([*tampered_entries, b"event-37"])
    assert not verify_consistency(20, 38, head_20, grown.root(), grown.consistency_proof(20))


def test_compact_range_resumes_from_stored_nodes() -> None:
    tree = _tree(_entries(45))
    resumed = CompactRange.from_store(45, tree.nodes.get)
    assert resumed.root() == tree.root() == ref.mth(_entries(45))
    resumed.append(leaf_hash(b"event-45"))
    assert resumed.root() == ref.mth(_entries(46))
    assert [lvl for lvl, _ in frontier_nodes(45)] == [5, 3, 2, 0]
    with pytest.raises(ValueError):
        CompactRange(3, [EMPTY_ROOT])


class _CountingStore:
    def __init__(self, tree: MemoryTree) -> None:
        self.tree = tree
        self.reads: list[tuple[int, int]] = []

    def get(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self.tree.nodes.get(level, index)


@pytest.fixture(scope="module")
def big_tree() -> MemoryTree:
    # Only leaf hashes, no entries: 100,000 appends take well under a second.
    tree = MemoryTree()
    for i in range(100_003):
        tree.append(hashlib.sha256(i.to_bytes(4, "big")).digest())
    return tree


@pytest.mark.parametrize("size", [100_000, 100_003, 65_536, 99_999])
def test_proofs_at_100k_need_a_logarithmic_number_of_lookups(
    big_tree: MemoryTree, size: int
) -> None:
    store = _CountingStore(big_tree)
    bound = 2 * size.bit_length()
    for index in (0, 1, size // 3, size - 2, size - 1):
        store.reads.clear()
        proof = inclusion_proof(index, size, store.get)
        assert len(store.reads) <= bound
        assert store.reads == inclusion_proof_nodes(index, size)
        leaf = big_tree.nodes.get(0, index)
        assert verify_inclusion(leaf, index, size, proof, big_tree.root(size))
    for m in (1, 7, 4096, size // 2 + 1, size - 1):
        store.reads.clear()
        proof = consistency_proof(m, size, store.get)
        assert len(store.reads) <= bound
        assert store.reads == consistency_proof_nodes(m, size)
        assert verify_consistency(m, size, big_tree.root(m), big_tree.root(size), proof)


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.binary(max_size=12), min_size=1, max_size=80),
    data=st.data(),
)
def test_property_proofs_hold_and_a_changed_leaf_fails(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = _tree(entries)
    n = len(entries)
    assert tree.root() == ref.mth(entries)
    index = data.draw(st.integers(0, n - 1))
    proof = tree.inclusion_proof(index)
    assert proof == ref.path(index, entries)
    assert verify_inclusion(leaf_hash(entries[index]), index, n, proof, tree.root())
    changed = entries[index] + b"!"
    assert not verify_inclusion(leaf_hash(changed), index, n, proof, tree.root())
    m = data.draw(st.integers(0, n))
    cproof = tree.consistency_proof(m)
    assert cproof == ref.proof(m, entries)
    assert verify_consistency(m, n, tree.root(m), tree.root(), cproof)
    if m > 0:
        edited = [*entries[: m - 1], entries[m - 1] + b"!", *entries[m:]]
        assert not verify_consistency(m, n, ref.mth(edited[:m]), tree.root(), cproof)

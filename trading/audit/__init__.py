"""The verifiable audit log (全程留痕): RFC 6962 Merkle tree, events and who may see them."""

"""Bids: sealed-bid submission (resumable uploads), replacement, withdrawal, receipts, and the
lots' opening keys under threshold custody."""

"""The transaction domain.

Tenders, lots, documents, bids, openings, awards and the audit log's rules.

Plain Python only: nothing here imports a web framework, an ORM, an object-store SDK or a
task queue.
Use cases are written against the small ports in :mod:`trading.ports`.
"""

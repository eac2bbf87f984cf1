"""Expert pool, verifiable draws, committees, review and scoring.

Plain Python, like :mod:`trading`.
"""

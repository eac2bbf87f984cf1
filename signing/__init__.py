"""Certificates and trust, PDF signature validation, CMS signatures and envelopes.

Also timestamps (RFC 3161) and the platform seal.
"""

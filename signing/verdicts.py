"""Values shared by every check in ``signing``: the verdict status and a problem found.

Checks return verdicts (frozen dataclasses) rather than raising: a certificate that is revoked
or a signature that does not match is a normal answer, with reasons a person can read in Chinese
or English and a ``code`` a program can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """The overall outcome of a check (ETSI EN 319 102-1 vocabulary)."""

    VALID = "valid"
    """Everything was checked and passed."""
    INVALID = "invalid"
    """Something was checked and failed (tampered, untrusted, revoked, expired, ...)."""
    INDETERMINATE = "indeterminate"
    """Nothing failed but something could not be checked (revocation data missing or stale)."""


@dataclass(frozen=True)
class Problem:
    """One reason a check did not come out valid."""

    code: str
    """Machine-readable, stable: ``digest_mismatch``, ``revoked``, ``crl_stale``, ..."""
    message_en: str
    message_zh: str

    def message(self, locale: str = "zh-CN") -> str:
        """The message in the person's language (Chinese unless English is asked for)."""
        return self.message_en if locale.lower().startswith("en") else self.message_zh


def worst(statuses: list[Status]) -> Status:
    """Combine statuses: any INVALID wins, then INDETERMINATE, else VALID."""
    if Status.INVALID in statuses:
        return Status.INVALID
    if Status.INDETERMINATE in statuses:
        return Status.INDETERMINATE
    return Status.VALID

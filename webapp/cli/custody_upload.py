"""Uploading a lot's opening key custody (public certificate and sealed shares) per the contract.

``POST /api/tenders/{tender_id}/lots/{lot_number}/opening-key`` with the opening certificate, the
threshold, one ``{"custodian_certificate", "share"}`` per custodian (the share being the sealed
CMS file ``custody create`` wrote for that custodian, base64) and the custody manifest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization

from signing.custody import MANIFEST_NAME, CustodyManifest
from signing.envelope_keys import load_certificate
from webapp.cli.bid_client import ApiClient, SubmitError


def custody_request(out: Path, custodian_files: Sequence[Path]) -> dict[str, Any]:
    """The request body from the directory ``custody create`` wrote."""
    manifest_bytes = (out / MANIFEST_NAME).read_bytes()
    manifest = CustodyManifest.from_json(manifest_bytes)
    by_fingerprint = {}
    for path in custodian_files:
        cert = load_certificate(path.read_bytes())
        by_fingerprint[cert.fingerprint(hashes.SHA256()).hex()] = cert
    shares = []
    for entry in manifest.custodians:
        found = by_fingerprint.get(entry.certificate_sha256)
        if found is None:
            raise SubmitError(
                f"no certificate given for custodian {entry.subject}",
                f"缺少托管人 {entry.subject} 的证书",
            )
        shares.append(
            {
                "custodian_certificate": found.public_bytes(serialization.Encoding.PEM).decode(),
                "share": base64.b64encode((out / entry.file).read_bytes()).decode(),
            }
        )
    return {
        "certificate": (out / manifest.certificate).read_text(encoding="ascii"),
        "threshold": manifest.threshold,
        "shares": shares,
        "manifest": json.loads(manifest_bytes),
    }


def upload_custody(
    out: Path,
    custodian_files: Sequence[Path],
    *,
    server: str,
    tender_id: str,
    lot_number: int,
    token: str | None,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, Any]:
    """Send the custody to the platform; its answer (public info, never the shares)."""
    body = custody_request(out, custodian_files)
    with ApiClient(server, token=token) as client:
        if token is None:
            client.login(username or "", password or "")
        answer = client.call(
            "POST", f"/api/tenders/{tender_id}/lots/{lot_number}/opening-key", json=body
        )
    return dict(answer)


def hand_over_share(
    client: ApiClient,
    *,
    tender_id: str,
    lot_number: int,
    key: Any,
    certificate: Any,
    sealed_share: bytes | None = None,
) -> tuple[Any, dict[str, Any]]:
    """At the opening: fetch this custodian's sealed share (unless given), decrypt it here with
    the custodian's own key, and hand the released share to the platform. The released share and
    the platform's answer (``released``, ``threshold``, ``reconstructed``)."""
    from signing.custody import release_share

    base = f"/api/tenders/{tender_id}/lots/{lot_number}/opening-key"
    if sealed_share is None:
        sealed_share = base64.b64decode(client.call("GET", f"{base}/shares/mine")["share"])
    released = release_share(sealed_share, key, certificate)
    answer = client.call(
        "POST", f"{base}/releases", json={"share": base64.b64encode(released.to_json()).decode()}
    )
    return released, dict(answer)

"""CA providers over HTTP, certificate binding and sign-in against them, the platform TSA."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from signing.trust import TrustStore
from signing.tsa import platform_tsa_provider, verify_token
from signing.verdicts import Status
from tests.http.conftest import World, member_for
from tests.pki_fixtures import DemoPkiFiles, EntityFiles, Responder, with_responder
from trading.identity.model import OrgType, Role


def provider_body(demo_pki: DemoPkiFiles, name: str) -> dict[str, object]:
    entry = next(p for p in demo_pki.index["providers"] if p["name"] == name)
    files = demo_pki.provider(name)
    return {
        "name": name,
        "roots": [files.root_pem.read_text()],
        "intermediates": [files.intermediate_pem.read_text()],
        "crl_urls": [files.crl_der.resolve().as_uri()],
        "identity": entry["identity"],
    }


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def pem(entity: EntityFiles) -> str:
    return entity.cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(entity: EntityFiles, message: bytes) -> str:
    key = entity.key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


async def certificate_login(world: World, entity: EntityFiles) -> tuple[int, dict[str, object]]:
    challenge = (await world.client.post("/api/auth/challenge")).json()
    response = await world.client.post(
        "/api/auth/certificate",
        json={
            "nonce": challenge["nonce"],
            "certificate": pem(entity),
            "signature": sign(entity, challenge["message"].encode()),
        },
    )
    body: dict[str, object] = response.json()
    return response.status_code, body


async def test_admin_manages_providers_and_crls_are_cached(
    world: World, demo_pki: DemoPkiFiles
) -> None:
    admin = world.actors[Role.ADMIN].headers
    created = await world.client.post(
        "/api/ca-providers", json=provider_body(demo_pki, "demo-rsa"), headers=admin
    )
    assert created.status_code == 201, created.text
    [crl] = created.json()["crls"]
    assert crl["stale"] and crl["fetched_at"] is None

    refreshed = await world.client.post("/api/ca-providers/refresh", headers=admin)
    assert [r["ok"] for r in refreshed.json()["results"]] == [True]
    [listed] = (await world.client.get("/api/ca-providers", headers=admin)).json()
    assert listed["crls"][0]["stale"] is False
    assert listed["roots"][0]["subject"].startswith("CN=")

    again = await world.client.post(
        "/api/ca-providers", json=provider_body(demo_pki, "demo-rsa"), headers=admin
    )
    assert again.status_code == 200  # replaced, not duplicated

    garbage = dict(provider_body(demo_pki, "demo-ecc"), name="bad", roots=["not a certificate"])
    refused = await world.client.post("/api/ca-providers", json=garbage, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["code"] == "key_file_invalid"

    gone = await world.client.delete("/api/ca-providers/demo-rsa", headers=admin)
    assert gone.status_code == 204
    missing = await world.client.delete("/api/ca-providers/demo-rsa", headers=admin)
    assert missing.json()["code"] == "ca_provider_not_found"

    supervisor = world.actors[Role.SUPERVISOR]
    events = (
        await world.client.get(
            "/api/audit/events", params={"action": "ca.provider_saved"}, headers=supervisor.headers
        )
    ).json()["events"]
    assert len(events) == 2 and events[1]["before"] is not None


async def test_certificate_binding_and_sign_in_follow_the_trusted_providers(
    world: World, demo_pki: DemoPkiFiles
) -> None:
    admin = world.actors[Role.ADMIN].headers
    rep = demo_pki.entity("bidder-1-rep")
    person_id, headers = await member_for(world, rep, OrgType.BIDDER, Role.BIDDER_REP)

    # No provider trusted yet: the certificate cannot be bound.
    untrusted = await world.client.post(
        f"/api/people/{person_id}/certificates", json={"certificate": pem(rep)}, headers=headers
    )
    assert untrusted.status_code in (401, 422), untrusted.text

    await world.client.post(
        "/api/ca-providers", json=provider_body(demo_pki, "demo-rsa"), headers=admin
    )
    await world.client.post("/api/ca-providers/refresh", headers=admin)
    bound = await world.client.post(
        f"/api/people/{person_id}/certificates", json={"certificate": pem(rep)}, headers=headers
    )
    assert bound.status_code == 201, bound.text

    # Another organisation's certificate carries another credit code.
    other = demo_pki.entity("bidder-2-rep")
    mismatch = await world.client.post(
        f"/api/people/{person_id}/certificates", json={"certificate": pem(other)}, headers=headers
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["details"]["reason"] == "credit_code_mismatch"

    revoked = demo_pki.entity("bidder-1-rep-old")
    refused = await world.client.post(
        f"/api/people/{person_id}/certificates", json={"certificate": pem(revoked)}, headers=headers
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "certificate_revoked"

    status, body = await certificate_login(world, rep)
    assert status == 201, body
    assert body["person_id"] == person_id

    # Once the provider is no longer trusted, the same certificate no longer signs in.
    await world.client.delete("/api/ca-providers/demo-rsa", headers=admin)
    status, body = await certificate_login(world, rep)
    assert status == 401, body


@pytest.mark.interop
async def test_the_platform_tsa_answers_openssl(world: World, tmp_path: Path) -> None:
    data = tmp_path / "receipt.bin"
    data.write_bytes(b"sealed bid digest goes here")
    query = tmp_path / "q.tsq"
    made = run(
        "openssl", "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query)
    )
    assert made.returncode == 0, made.stderr
    bidder = world.actors[Role.BIDDER_REP].headers
    reply = await world.client.post(
        "/api/tsa",
        content=query.read_bytes(),
        headers={**bidder, "content-type": "application/timestamp-query"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/timestamp-reply")
    (tmp_path / "r.tsr").write_bytes(reply.content)
    chain = (await world.client.get("/api/tsa/certificate")).text
    tsa_pem, root_pem = chain.split("-----END CERTIFICATE-----\n")[:2]
    (tmp_path / "tsa.pem").write_text(tsa_pem + "-----END CERTIFICATE-----\n")
    (tmp_path / "root.pem").write_text(root_pem + "-----END CERTIFICATE-----\n")
    verified = run(
        "openssl", "ts", "-verify", "-in", str(tmp_path / "r.tsr"), "-data", str(data),
        "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "tsa.pem"),
    )  # fmt: skip
    assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified.stderr

    anonymous = await world.client.post("/api/tsa", content=query.read_bytes())
    assert anonymous.status_code == 401


async def test_tree_heads_carry_a_timestamp_from_the_platform_tsa(world: World) -> None:
    supervisor = world.actors[Role.SUPERVISOR].headers
    head = (await world.client.post("/api/audit/tree-heads", headers=supervisor)).json()
    token = base64.b64decode(head["timestamp_token"])
    signed = base64.b64decode(head["signed"])
    trust = TrustStore([platform_tsa_provider(world.app.state.services.tsa())])
    verdict = await verify_token(token, hashlib.sha256(signed).digest(), trust)
    assert verdict.status is Status.VALID, verdict.problems
    wrong = await verify_token(token, hashlib.sha256(signed + b"x").digest(), trust)
    assert wrong.status is Status.INVALID


async def test_the_platform_asks_ocsp_on_use_and_keeps_the_answer(
    world: World, demo_pki: DemoPkiFiles, responder: tuple[Responder, str]
) -> None:
    state, url = responder
    admin = world.actors[Role.ADMIN].headers
    body = dict(provider_body(demo_pki, "demo-rsa"), crl_urls=[])  # OCSP alone decides
    assert (await world.client.post("/api/ca-providers", json=body, headers=admin)).is_success
    rep = demo_pki.entity("bidder-1-rep")
    cert = with_responder(demo_pki, "bidder-1-rep", url)
    state.certs.append(cert)
    person_id, headers = await member_for(world, rep, OrgType.BIDDER, Role.BIDDER_REP)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    bound = await world.client.post(
        f"/api/people/{person_id}/certificates", json={"certificate": cert_pem}, headers=headers
    )
    assert bound.status_code == 201, bound.text
    assert state.requests == 1
    async with world.app.state.services.uow() as uow:
        [cached] = (await uow.trust.load_store()).ocsps
    assert cached.status == "good"

    # Revoked at the CA; the cached answer is current, so sign-in still uses it until the
    # refresh job asks again, after which the certificate is refused.
    state.revoked.add(cert.serial_number)
    refreshed = await world.client.post("/api/ca-providers/refresh", headers=admin)
    assert any(r["ok"] and r["url"] == url for r in refreshed.json()["results"])
    challenge = (await world.client.post("/api/auth/challenge")).json()
    refused = await world.client.post(
        "/api/auth/certificate",
        json={
            "nonce": challenge["nonce"],
            "certificate": cert_pem,
            "signature": sign(rep, challenge["message"].encode()),
        },
    )
    assert refused.status_code == 401 and refused.json()["code"] == "certificate_revoked"

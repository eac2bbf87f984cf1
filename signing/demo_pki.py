"""A demo and test PKI: two CA providers, each root → intermediate → end entities.

``tenderhall pki demo --out DIR`` and the test suite use the same generator. One provider is RSA
(root RSA-3072, the rest RSA-2048), the other ECDSA P-256. End-entity certificates cover demo
bidder organisations (credit code in the subject), their representatives, an agency, experts,
custodians (keys for envelopes), the platform (document signing, for the seal) and the platform's
TSA, plus one revoked and one expired certificate. ``DIR/index.json`` describes every file.

The two providers deliberately put the credit code in different subject attributes (the RSA one in
organizationIdentifier with an ``NTRCN-`` prefix, the ECDSA one in serialNumber), as real Chinese
CAs do, so the per-provider identity configuration is exercised.

Keys are random; names, serial numbers and validity periods follow from ``now`` only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.keys import PrivateKey, key_type
from trading.credit_code import make_credit_code

KeyType = Literal["rsa", "ec"]
Status = Literal["valid", "revoked", "expired"]

ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning, RFC 9336
DEMO_PERSON_ID_OID = "2.25.248516950377352740416426734036462394785"
"""A UUID-derived OID (X.667) under which the ECDSA demo provider stores a person's ID number."""
TSA_POLICY_OID = "2.25.118366471598224063389421839101385542553"
"""The demo platform TSA's policy (UUID-derived OID, X.667)."""

INDEX_VERSION = 1
DEFAULT_PASSWORD = "demo"  # noqa: S105 - the documented password of the *demo* PKCS#12 files


@dataclass(frozen=True)
class Organisation:
    slug: str
    name: str
    name_en: str
    first17: str

    @property
    def credit_code(self) -> str:
        return make_credit_code(self.first17)


ORGANISATIONS = {
    org.slug: org
    for org in (
        Organisation(
            "bidder-1", "示例建设工程有限公司", "Demo Construction Co., Ltd.", "91110105MA01DEM01"
        ),
        Organisation(
            "bidder-2", "示例路桥集团有限公司", "Demo Roads & Bridges Group", "91310115MA1HDEM02"
        ),
        Organisation(
            "bidder-3", "示例水利科技有限公司", "Demo Water Technology Co.", "91440300MA5FDEM03"
        ),
        Organisation(
            "agency", "示例招标代理有限公司", "Demo Tendering Agency Co.", "91320100MA1MDEM04"
        ),
        Organisation(
            "platform", "示例公共资源交易中心", "Demo Public Resource Centre", "12100000DEM000050"
        ),
    )
}


def resident_id(first17: str) -> str:
    """A resident ID number (GB 11643) with its ISO 7064 MOD 11-2 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char) * weight for char, weight in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


@dataclass(frozen=True)
class EntitySpec:
    """One end-entity certificate of the demo PKI."""

    id: str
    role: str
    """bidder_org, bidder_person, agency, expert, custodian, platform or tsa."""
    provider: str
    organisation: str | None
    person: str | None = None
    person_first17: str | None = None
    status: Status = "valid"
    usage: Literal["sign", "sign_encrypt", "encrypt", "document", "tsa"] = "sign"

    @property
    def person_id(self) -> str | None:
        return resident_id(self.person_first17) if self.person_first17 else None


ENTITIES: tuple[EntitySpec, ...] = (
    EntitySpec("bidder-1-org", "bidder_org", "demo-rsa", "bidder-1", usage="sign_encrypt"),
    EntitySpec(
        "bidder-1-rep", "bidder_person", "demo-rsa", "bidder-1", "张伟", "11010119850307001"
    ),
    EntitySpec("bidder-2-org", "bidder_org", "demo-rsa", "bidder-2", usage="sign_encrypt"),
    EntitySpec(
        "bidder-2-rep", "bidder_person", "demo-rsa", "bidder-2", "李娜", "31011519900512002"
    ),
    EntitySpec("bidder-3-org", "bidder_org", "demo-ecc", "bidder-3", usage="sign_encrypt"),
    EntitySpec(
        "bidder-3-rep", "bidder_person", "demo-ecc", "bidder-3", "王芳", "44030019880823003"
    ),
    EntitySpec("agency-org", "agency", "demo-rsa", "agency"),
    EntitySpec("expert-1", "expert", "demo-rsa", None, "刘洋", "32010219750115004"),
    EntitySpec("expert-2", "expert", "demo-ecc", None, "陈静", "11010819800630005"),
    EntitySpec(
        "custodian-1",
        "custodian",
        "demo-rsa",
        "agency",
        "赵磊",
        "32010019820101006",
        usage="encrypt",
    ),
    EntitySpec(
        "custodian-2",
        "custodian",
        "demo-rsa",
        "platform",
        "孙丽",
        "11010219791111007",
        usage="encrypt",
    ),
    EntitySpec(
        "custodian-3",
        "custodian",
        "demo-ecc",
        "platform",
        "周强",
        "44030519860909008",
        usage="encrypt",
    ),
    EntitySpec("platform-seal", "platform", "demo-rsa", "platform", usage="document"),
    EntitySpec("platform-tsa", "tsa", "demo-rsa", "platform", usage="tsa"),
    EntitySpec(
        "bidder-1-rep-old",
        "bidder_person",
        "demo-rsa",
        "bidder-1",
        "张伟",
        "11010119850307001",
        status="revoked",
    ),
    EntitySpec("bidder-3-org-old", "bidder_org", "demo-ecc", "bidder-3", status="expired"),
)


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    display: str
    key_type: KeyType
    credit_code_oid: str
    credit_code_prefix: str
    person_id_oid: str

    @property
    def crl_url(self) -> str:
        """Where the intermediate's CRL is published (written into certificates; demo host)."""
        return f"http://pki.tenderhall.test/{self.name}/intermediate.crl"


PROVIDERS = (
    ProviderSpec("demo-rsa", "Tenderhall Demo RSA", "rsa", "2.5.4.97", "NTRCN-", "2.5.4.5"),
    ProviderSpec("demo-ecc", "Tenderhall Demo ECC", "ec", "2.5.4.5", "", DEMO_PERSON_ID_OID),
)


def _new_key(key_type: KeyType, bits: int = 2048) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return ec.generate_private_key(ec.SECP256R1())


def _serial(label: str) -> int:
    # Deterministic, positive, 64 bits of entropy-looking digits (RFC 5280 allows up to 20 octets).
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:12], "big") >> 1 | 1


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class _Ca:
    cert: x509.Certificate
    key: PrivateKey


@dataclass
class GeneratedEntity:
    spec: EntitySpec
    cert: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate]
    """Intermediate then root."""


@dataclass
class GeneratedProvider:
    spec: ProviderSpec
    root: _Ca
    intermediate: _Ca
    crl: x509.CertificateRevocationList


@dataclass
class DemoPki:
    """Everything :func:`generate` made, in memory."""

    now: datetime
    providers: dict[str, GeneratedProvider] = field(default_factory=dict)
    entities: dict[str, GeneratedEntity] = field(default_factory=dict)


def _ca_cert(
    subject: x509.Name,
    key: PrivateKey,
    issuer: _Ca | None,
    *,
    not_before: datetime,
    not_after: datetime,
    path_length: int,
    serial: int,
) -> x509.Certificate:
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def _name(spec: EntitySpec, provider: ProviderSpec) -> x509.Name:
    org = ORGANISATIONS[spec.organisation] if spec.organisation else None
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org.name))
        code = provider.credit_code_prefix + org.credit_code
        attrs.append(x509.NameAttribute(x509.ObjectIdentifier(provider.credit_code_oid), code))
    if spec.person and spec.person_id:
        attrs.append(
            x509.NameAttribute(x509.ObjectIdentifier(provider.person_id_oid), spec.person_id)
        )
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.person))
    elif spec.role == "tsa":
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, "示例交易中心时间戳服务 Demo TSA"))
    elif org:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, org.name))
    return x509.Name(attrs)


def _key_usage(spec: EntitySpec, key_type: KeyType) -> x509.KeyUsage:
    sign = spec.usage in {"sign", "sign_encrypt", "document", "tsa"}
    encrypt = spec.usage in {"sign_encrypt", "encrypt"}
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign,
        key_encipherment=encrypt and key_type == "rsa",
        data_encipherment=False,
        key_agreement=encrypt and key_type == "ec",
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _end_entity(
    spec: EntitySpec, provider: ProviderSpec, issuer: _Ca, key: PrivateKey, now: datetime
) -> x509.Certificate:
    if spec.status == "expired":
        not_before, not_after = now - timedelta(days=400), now - timedelta(days=35)
    else:
        not_before, not_after = now - timedelta(days=30), now + timedelta(days=730)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec, provider))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(f"{provider.name}/{spec.id}"))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(spec, provider.key_type), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(provider.crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    )
    if spec.usage == "tsa":
        # RFC 3161 §2.3: the TSA certificate has exactly this EKU, marked critical.
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    elif spec.usage == "document":
        builder = builder.add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def _provider(spec: ProviderSpec, now: datetime) -> tuple[_Ca, _Ca]:
    root_key = _new_key(spec.key_type, 3072)
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.display),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{spec.display} Root CA"),
        ]
    )
    root_cert = _ca_cert(
        root_name,
        root_key,
        None,
        not_before=now - timedelta(days=365),
        not_after=now + timedelta(days=3650),
        path_length=1,
        serial=_serial(f"{spec.name}/root"),
    )
    root = _Ca(root_cert, root_key)
    inter_key = _new_key(spec.key_type, 2048)
    inter_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, spec.display),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{spec.display} Issuing CA 1"),
        ]
    )
    inter_cert = _ca_cert(
        inter_name,
        inter_key,
        root,
        not_before=now - timedelta(days=364),
        not_after=now + timedelta(days=1825),
        path_length=0,
        serial=_serial(f"{spec.name}/intermediate"),
    )
    return root, _Ca(inter_cert, inter_key)


def _crl(
    issuer: _Ca, revoked: Iterable[x509.Certificate], now: datetime
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(now + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - timedelta(days=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def generate(now: datetime, entities: Iterable[EntitySpec] = ENTITIES) -> DemoPki:
    """Build the whole demo PKI in memory (keys are fresh; everything else follows from ``now``)."""
    pki = DemoPki(now=now)
    wanted = list(entities)
    specs = {spec.name: spec for spec in PROVIDERS}
    cas: dict[str, tuple[_Ca, _Ca]] = {spec.name: _provider(spec, now) for spec in PROVIDERS}
    revoked: dict[str, list[x509.Certificate]] = {spec.name: [] for spec in PROVIDERS}
    for entity in wanted:
        provider = specs[entity.provider]
        root, inter = cas[entity.provider]
        key = _new_key(provider.key_type)
        cert = _end_entity(entity, provider, inter, key, now)
        pki.entities[entity.id] = GeneratedEntity(entity, cert, key, [inter.cert, root.cert])
        if entity.status == "revoked":
            revoked[entity.provider].append(cert)
    for spec in PROVIDERS:
        root, inter = cas[spec.name]
        pki.providers[spec.name] = GeneratedProvider(
            spec, root, inter, _crl(inter, revoked[spec.name], now)
        )
    return pki


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def write(pki: DemoPki, out: Path, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    """Write every file of ``pki`` under ``out`` and return (and write) ``index.json``.

    Private keys are written twice: in a PKCS#12 file protected by ``password``, and as an
    unencrypted PKCS#8 PEM for scripts (demo keys only; mode 0600).
    """
    out.mkdir(parents=True, exist_ok=True)
    files: list[dict[str, Any]] = []
    providers: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []

    def record(rel: str, role: str, provider: str, **extra: Any) -> str:
        files.append({"path": rel, "role": role, "provider": provider, **extra})
        return rel

    for name, provider in pki.providers.items():
        spec = provider.spec
        base = Path(name)
        meta = {"organisation": None, "credit_code": None, "status": "valid"}
        paths: dict[str, str] = {}
        for label, ca in (("root", provider.root), ("intermediate", provider.intermediate)):
            kind = key_type(ca.key)
            for ext, enc in (
                ("pem", serialization.Encoding.PEM),
                ("der", serialization.Encoding.DER),
            ):
                rel = str(base / f"{label}.{ext}")
                _write(out / rel, ca.cert.public_bytes(enc))
                paths[f"{label}_{ext}"] = record(rel, f"{label}_ca", name, key_type=kind, **meta)
        for ext, enc in (
            ("crl", serialization.Encoding.DER),
            ("crl.pem", serialization.Encoding.PEM),
        ):
            rel = str(base / f"intermediate.{ext}")
            _write(out / rel, provider.crl.public_bytes(enc))
            paths[f"crl_{'der' if ext == 'crl' else 'pem'}"] = record(
                rel, "crl", name, key_type=key_type(provider.intermediate.key), **meta
            )
        providers.append(
            {
                "name": name,
                "display": spec.display,
                "key_type": spec.key_type,
                "crl_url": spec.crl_url,
                "identity": {
                    "credit_code_oid": spec.credit_code_oid,
                    "credit_code_prefix": spec.credit_code_prefix,
                    "person_id_oid": spec.person_id_oid,
                },
                "files": paths,
            }
        )

    for entity in pki.entities.values():
        ee = entity.spec
        org = ORGANISATIONS[ee.organisation] if ee.organisation else None
        kind = key_type(entity.key)
        meta = {
            "organisation": org.name if org else None,
            "credit_code": org.credit_code if org else None,
            "status": ee.status,
            "key_type": kind,
            "entity": ee.id,
        }
        base = Path(ee.provider)
        cert_pem = _pem(entity.cert)
        chain_pem = b"".join(_pem(c) for c in entity.chain)
        key_pem = entity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        p12 = pkcs12.serialize_key_and_certificates(
            ee.id.encode(),
            entity.key,
            entity.cert,
            entity.chain,
            serialization.BestAvailableEncryption(password.encode()),
        )
        paths = {}
        for label, name, data, private in (
            ("cert", f"{ee.id}.cert.pem", cert_pem, False),
            ("chain", f"{ee.id}.chain.pem", chain_pem, False),
            ("key", f"{ee.id}.key.pem", key_pem, True),
            ("p12", f"{ee.id}.p12", p12, True),
        ):
            rel = str(base / name)
            _write(out / rel, data, private=private)
            paths[label] = record(rel, ee.role, ee.provider, **meta)
        entities.append(
            {
                "id": ee.id,
                "role": ee.role,
                "provider": ee.provider,
                "organisation": meta["organisation"],
                "organisation_en": org.name_en if org else None,
                "credit_code": meta["credit_code"],
                "person": ee.person,
                "person_id": ee.person_id,
                "key_type": kind,
                "status": ee.status,
                "subject": entity.cert.subject.rfc4514_string(),
                "serial": format(entity.cert.serial_number, "x"),
                "not_before": entity.cert.not_valid_before_utc.isoformat(),
                "not_after": entity.cert.not_valid_after_utc.isoformat(),
                "files": paths,
            }
        )

    index = {
        "version": INDEX_VERSION,
        "generated_at": pki.now.isoformat(),
        "tsa_policy": TSA_POLICY_OID,
        "providers": providers,
        "entities": entities,
        "files": files,
    }
    (out / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2), "utf-8")
    return index


def build(out: Path, *, now: datetime, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    """Generate the demo PKI and write it under ``out``; returns the index."""
    return write(generate(now), out, password)

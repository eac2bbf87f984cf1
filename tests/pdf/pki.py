"""A small offline test PKI made with ``cryptography``: root → intermediate → end entities.

Kept to what the PDF tests need (the shared demo PKI will replace it): a good signer with
digitalSignature/nonRepudiation and a credit code, a TSA with the timeStamping EKU, a revoked
signer with a CRL, an expired signer, a signer whose key may only encipher, and an unrelated root
to sign "untrusted" documents. EC P-256 keys keep generation fast
(the TSA is RSA: pyHanko's ``DummyTimeStamper`` signs with RSA only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")
CREDIT_CODE = "91350100M000100Y43"
PASSWORD = b"test"


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key (both as ``cryptography`` objects)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def asn1_cert(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))

    @property
    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        return asn1_keys.PrivateKeyInfo.load(
            self.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def p12(self, chain: list[Issued], password: bytes = PASSWORD) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"signer",
            self.key,
            self.cert,
            [c.cert for c in chain],
            serialization.BestAvailableEncryption(password),
        )


@dataclass(frozen=True)
class Pki:
    root: Issued
    intermediate: Issued
    signer: Issued
    cosigner: Issued
    tsa: Issued
    revoked: Issued
    expired: Issued
    wrong_usage: Issued
    stranger_root: Issued
    stranger: Issued
    crl_der: bytes
    """The intermediate's CRL, listing ``revoked``."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def asn1_crl(self) -> asn1_crl.CertificateList:
        return asn1_crl.CertificateList.load(self.crl_der)

    def write(self, directory: Path) -> dict[str, Path]:
        """Write PEM and PKCS#12 files (for the CLI and external tools); returns name → path."""
        directory.mkdir(parents=True, exist_ok=True)
        chain = [self.intermediate, self.root]
        paths: dict[str, Path] = {}
        for name in ("root", "intermediate", "signer", "tsa", "stranger_root", "stranger"):
            issued: Issued = getattr(self, name)
            paths[f"{name}.pem"] = directory / f"{name}.pem"
            paths[f"{name}.pem"].write_bytes(issued.cert_pem)
            paths[f"{name}.key"] = directory / f"{name}.key"
            paths[f"{name}.key"].write_bytes(issued.key_pem)
        paths["signer.p12"] = directory / "signer.p12"
        paths["signer.p12"].write_bytes(self.signer.p12(chain))
        paths["tsa.p12"] = directory / "tsa.p12"
        paths["tsa.p12"].write_bytes(self.tsa.p12(chain))
        paths["crl.der"] = directory / "crl.der"
        paths["crl.der"].write_bytes(self.crl_der)
        return paths


def _name(cn: str, *, org: str = "Tenderhall Test", credit_code: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
    ]
    if credit_code:
        attrs.append(x509.NameAttribute(ORGANIZATION_IDENTIFIER, credit_code))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _issue(
    subject: x509.Name,
    issuer: Issued | None,
    *,
    ca: bool,
    now: datetime,
    usage: str = "sign",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
) -> Issued:
    # pyHanko's in-process test TSA signs with RSA only; everything else uses P-256.
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(65537, 2048)
        if usage == "tsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=30))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if ca:
        flags.update(key_cert_sign=True, crl_sign=True, digital_signature=True)
    elif usage == "sign":
        flags.update(digital_signature=True, content_commitment=True)
    elif usage == "tsa":
        flags.update(digital_signature=True)
    else:  # "agree": a key-agreement-only certificate, wrong for signing documents
        flags.update(key_agreement=True)
    builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if issuer and not ca:
        # Revocation is checked for certificates that name a CRL (soft-fail otherwise); the URL
        # is never fetched: tests put the CRL into the validation context.
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[
                            x509.UniformResourceIdentifier("http://crl.test.invalid/sub.crl")
                        ],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    cert = builder.sign(signing_key, hashes.SHA256())
    return Issued(cert=cert, key=key)


def make_test_pki() -> Pki:
    now = datetime.now(UTC)
    root = _issue(_name("Tenderhall Test Root CA"), None, ca=True, now=now)
    intermediate = _issue(_name("Tenderhall Test Sub CA"), root, ca=True, now=now)
    signer = _issue(
        _name("张三 Zhang San", org="测试建设有限公司", credit_code=CREDIT_CODE),
        intermediate,
        ca=False,
        now=now,
    )
    cosigner = _issue(_name("李四 Li Si"), intermediate, ca=False, now=now)
    tsa = _issue(
        _name("Tenderhall Test TSA"),
        intermediate,
        ca=False,
        now=now,
        usage="tsa",
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    revoked = _issue(_name("Revoked Signer"), intermediate, ca=False, now=now)
    expired = _issue(
        _name("Expired Signer"),
        intermediate,
        ca=False,
        now=now,
        not_before=now - timedelta(days=60),
        not_after=now - timedelta(days=1),
    )
    wrong_usage = _issue(
        _name("Key Agreement Only"), intermediate, ca=False, now=now, usage="agree"
    )
    stranger_root = _issue(_name("Unknown Root CA", org="Elsewhere"), None, ca=True, now=now)
    stranger = _issue(_name("Stranger", org="Elsewhere"), stranger_root, ca=False, now=now)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(intermediate.cert.subject)
        .last_update(now - timedelta(hours=1))
        .next_update(now + timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked.cert.serial_number)
            .revocation_date(now - timedelta(hours=2))
            .build()
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(intermediate.key.public_key()),
            critical=False,
        )
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(intermediate.key, hashes.SHA256())
    )
    return Pki(
        root=root,
        intermediate=intermediate,
        signer=signer,
        cosigner=cosigner,
        tsa=tsa,
        revoked=revoked,
        expired=expired,
        wrong_usage=wrong_usage,
        stranger_root=stranger_root,
        stranger=stranger,
        crl_der=crl.public_bytes(serialization.Encoding.DER),
        now=now,
    )

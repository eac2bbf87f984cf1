"""Recipient infos of the envelope: wrapping and unwrapping the content-encryption key.

- RSA certificates: KeyTransRecipientInfo with RSAES-OAEP, SHA-256 and MGF1-SHA-256 (RFC 8017,
  RFC 4055), encoded exactly as ``openssl cms -keyopt rsa_padding_mode:oaep -keyopt
  rsa_oaep_md:sha256`` writes it. When reading, PKCS#1 v1.5 (openssl's default) and other OAEP
  hashes are accepted too.
- EC certificates (P-256, P-384, P-521): KeyAgreeRecipientInfo, ephemeral-static ECDH
  ``dhSinglePass-stdDH-sha256kdf-scheme`` with the ANSI X9.63 KDF and AES-256 key wrap
  (RFC 5753, RFC 3394), as openssl does. When reading, the SHA-1/224/384/512 KDF variants and
  AES-128/192 wrap are accepted too (openssl's default is the SHA-1 KDF).

Recipients are identified by issuer and serial number, as openssl does by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asn1crypto import cms, core, keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)
from cryptography.x509 import Certificate, ExtensionNotFound, SubjectKeyIdentifier

from signing.envelope_errors import (
    KeyUnwrapError,
    MalformedEnvelopeError,
    NotARecipientError,
    RecipientCertificateError,
    UnsupportedAlgorithmError,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# RSAES-OAEP with SHA-256 and MGF1-SHA-256, hash parameters absent: byte for byte what openssl 3
# writes. asn1crypto would add NULL parameters to the hash identifiers, so the DER is spelled out.
_OAEP_SHA256_DER = bytes.fromhex(
    "3038"
    "06092a864886f70d010107"  # rsaesOaep
    "302b"
    "a00d300b0609608648016503040201"  # [0] hashAlgorithm sha256
    "a11a3018"
    "06092a864886f70d010108"  # [1] maskGenAlgorithm mgf1
    "300b0609608648016503040201"  # with sha256
)

_DH_SINGLE_PASS_KDF: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.3.133.16.840.63.0.2": hashes.SHA1,  # dhSinglePass-stdDH-sha1kdf-scheme
    "1.3.132.1.11.0": hashes.SHA224,
    "1.3.132.1.11.1": hashes.SHA256,
    "1.3.132.1.11.2": hashes.SHA384,
    "1.3.132.1.11.3": hashes.SHA512,
}
_SHA256_KDF_SCHEME = "1.3.132.1.11.1"
_WRAP_KEY_SIZES = {"aes128_wrap": 16, "aes192_wrap": 24, "aes256_wrap": 32}
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}


class _EccCmsSharedInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """ECC-CMS-SharedInfo (RFC 5753 §7.2), the X9.63 KDF's shared info."""

    _fields = [  # noqa: RUF012 - asn1crypto's declarative schema
        ("key_info", core.Any),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


def _issuer_and_serial(cert: Certificate) -> cms.IssuerAndSerialNumber:
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    )


def _subject_key_id(cert: Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(SubjectKeyIdentifier).value.digest
    except ExtensionNotFound:
        return None


def _kek(
    shared_secret: bytes,
    kdf_hash: Callable[[], hashes.HashAlgorithm],
    wrap_algorithm_der: bytes,
    key_size: int,
    ukm: bytes | None,
) -> bytes:
    info = _EccCmsSharedInfo(
        {
            "key_info": core.Any.load(wrap_algorithm_der),
            "entity_u_info": ukm,
            "supp_pub_info": (key_size * 8).to_bytes(4, "big"),
        }
    )
    return X963KDF(algorithm=kdf_hash(), length=key_size, sharedinfo=info.dump()).derive(
        shared_secret
    )


def build_recipient_info(cert: Certificate, cek: bytes) -> cms.RecipientInfo:
    """A recipient info wrapping ``cek`` for the certificate's public key."""
    public_key = cert.public_key()
    rid = _issuer_and_serial(cert)
    if isinstance(public_key, rsa.RSAPublicKey):
        encrypted = public_key.encrypt(
            cek,
            padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()),
                algorithm=hashes.SHA256(),
                label=None,
            ),
        )
        return cms.RecipientInfo(
            name="ktri",
            value=cms.KeyTransRecipientInfo(
                {
                    "version": "v0",
                    "rid": cms.RecipientIdentifier(name="issuer_and_serial_number", value=rid),
                    "key_encryption_algorithm": cms.KeyEncryptionAlgorithm.load(_OAEP_SHA256_DER),
                    "encrypted_key": encrypted,
                }
            ),
        )
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CURVES:
            raise RecipientCertificateError(f"unsupported curve {public_key.curve.name}")
        ephemeral = ec.generate_private_key(public_key.curve)
        shared = ephemeral.exchange(ec.ECDH(), public_key)
        wrap_algorithm = cms.KeyEncryptionAlgorithm({"algorithm": "aes256_wrap"})
        kek = _kek(shared, hashes.SHA256, wrap_algorithm.dump(), 32, None)
        point = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        originator_key = keys.PublicKeyInfo(
            {
                # Curve parameters absent: the recipient's curve applies (RFC 5753 §3.1.1),
                # which is what openssl writes.
                "algorithm": keys.PublicKeyAlgorithm({"algorithm": "ec"}),
                "public_key": point,
            }
        )
        return cms.RecipientInfo(
            name="kari",
            value=cms.KeyAgreeRecipientInfo(
                {
                    "version": "v3",
                    "originator": cms.OriginatorIdentifierOrKey(
                        name="originator_key", value=originator_key
                    ),
                    "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                        {"algorithm": _SHA256_KDF_SCHEME, "parameters": wrap_algorithm}
                    ),
                    "recipient_encrypted_keys": [
                        {
                            "rid": cms.KeyAgreementRecipientIdentifier(
                                name="issuer_and_serial_number", value=rid
                            ),
                            "encrypted_key": aes_key_wrap(kek, cek),
                        }
                    ],
                }
            ),
        )
    raise RecipientCertificateError(
        f"the key type {type(public_key).__name__} cannot receive an envelope (RSA or EC only)"
    )


def build_recipient_infos(certs: Sequence[Certificate], cek: bytes) -> cms.RecipientInfos:
    """One recipient info per certificate."""
    if not certs:
        raise RecipientCertificateError("at least one recipient certificate is needed")
    return cms.RecipientInfos([build_recipient_info(cert, cek) for cert in certs])


def _rid_matches(rid: core.Choice, cert: Certificate | None) -> bool:
    """Whether a recipient identifier names ``cert``; any rid matches when there is no cert."""
    if cert is None:
        return True
    if rid.name == "issuer_and_serial_number":
        ours = _issuer_and_serial(cert)
        theirs = rid.chosen
        return bool(
            theirs["serial_number"].native == ours["serial_number"].native
            and theirs["issuer"] == ours["issuer"]
        )
    if rid.name in ("subject_key_identifier", "r_key_id"):
        ski = _subject_key_id(cert)
        value = (
            rid.chosen
            if rid.name == "subject_key_identifier"
            else rid.chosen["subject_key_identifier"]
        )
        return ski is not None and bytes(value.native) == ski
    return False


def names_recipient(recipient_infos: cms.RecipientInfos, cert: Certificate) -> bool:
    """Whether any recipient info (key transport or key agreement) is addressed to ``cert``.

    Only the identifiers are compared; nothing is decrypted, so no private key is needed.
    """
    for info in recipient_infos:
        if info.name == "ktri" and _rid_matches(info.chosen["rid"], cert):
            return True
        if info.name == "kari" and any(
            _rid_matches(rk["rid"], cert) for rk in info.chosen["recipient_encrypted_keys"]
        ):
            return True
    return False


def _unwrap_ktri(ktri: cms.KeyTransRecipientInfo, key: rsa.RSAPrivateKey) -> bytes:
    algorithm = ktri["key_encryption_algorithm"]
    name = algorithm["algorithm"].native
    encrypted = ktri["encrypted_key"].native
    if name == "rsaes_pkcs1v15":
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    elif name == "rsaes_oaep":
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise UnsupportedAlgorithmError(f"OAEP mask generation {mgf['algorithm'].native}")
        mgf_hash_name = mgf["parameters"]["algorithm"].native
        if params["p_source_algorithm"]["parameters"].native not in (b"", None):
            raise UnsupportedAlgorithmError("OAEP with a label")
        if hash_name not in _DIGESTS or mgf_hash_name not in _DIGESTS:
            raise UnsupportedAlgorithmError(f"OAEP with {hash_name}/{mgf_hash_name}")
        pad = padding.OAEP(
            mgf=padding.MGF1(algorithm=_DIGESTS[mgf_hash_name]()),
            algorithm=_DIGESTS[hash_name](),
            label=None,
        )
    else:
        raise UnsupportedAlgorithmError(f"key transport {name}")
    try:
        return key.decrypt(encrypted, pad)
    except ValueError as exc:
        raise KeyUnwrapError() from exc


def _unwrap_kari(
    kari: cms.KeyAgreeRecipientInfo, key: ec.EllipticCurvePrivateKey, cert: Certificate | None
) -> bytes | None:
    """The content key, or None when no encrypted key in this recipient info names ``cert``."""
    algorithm = kari["key_encryption_algorithm"]
    scheme = algorithm["algorithm"].dotted
    kdf_hash = _DH_SINGLE_PASS_KDF.get(scheme)
    if kdf_hash is None:
        raise UnsupportedAlgorithmError(f"key agreement {algorithm['algorithm'].native}")
    wrap_der = algorithm["parameters"].dump()
    try:
        wrap_name = cms.KeyEncryptionAlgorithm.load(wrap_der)["algorithm"].native
    except ValueError as exc:
        raise MalformedEnvelopeError("bad key-wrap algorithm identifier") from exc
    key_size = _WRAP_KEY_SIZES.get(wrap_name)
    if key_size is None:
        raise UnsupportedAlgorithmError(f"key wrap {wrap_name}")
    originator = kari["originator"]
    if originator.name != "originator_key":
        raise UnsupportedAlgorithmError("a static originator key (only ephemeral-static ECDH)")
    candidates = [rk for rk in kari["recipient_encrypted_keys"] if _rid_matches(rk["rid"], cert)]
    if not candidates:
        return None
    point = originator.chosen["public_key"].native
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, point)
    except ValueError as exc:
        if cert is None:
            return None  # trying every recipient: a key on another curve is not ours
        raise MalformedEnvelopeError("the originator key is not a point on the curve") from exc
    ukm = kari["ukm"].native
    shared = key.exchange(ec.ECDH(), ephemeral)
    kek = _kek(shared, kdf_hash, wrap_der, key_size, ukm)
    for recipient_key in candidates:
        try:
            return aes_key_unwrap(kek, recipient_key["encrypted_key"].native)
        except InvalidUnwrap as exc:
            if cert is None:
                continue  # trying every recipient: this one was not ours
            raise KeyUnwrapError() from exc
    return None


def unwrap_content_key(
    recipient_infos: cms.RecipientInfos,
    key: PrivateKey,
    cert: Certificate | None,
    key_size: int | None = None,
) -> bytes:
    """Find the recipient info for ``key`` (named by ``cert`` when given) and unwrap the CEK.

    Without a certificate every recipient info of the key's type is tried, as openssl does;
    ``key_size`` (the content key's expected length) then helps to skip infos that are not ours
    but "decrypt" anyway (PKCS#1 v1.5 implicit rejection yields random bytes, not an error).
    """
    tried_without_cert = False
    for info in recipient_infos:
        if info.name == "ktri" and isinstance(key, rsa.RSAPrivateKey):
            ktri = info.chosen
            if not _rid_matches(ktri["rid"], cert):
                continue
            if cert is not None:
                return _unwrap_ktri(ktri, key)
            tried_without_cert = True
            try:
                cek = _unwrap_ktri(ktri, key)
            except KeyUnwrapError:
                continue
            if key_size is None or len(cek) == key_size:
                return cek
        if info.name == "kari" and isinstance(key, ec.EllipticCurvePrivateKey):
            found = _unwrap_kari(info.chosen, key, cert)
            if found is not None:
                return found
    if tried_without_cert:
        raise KeyUnwrapError()
    raise NotARecipientError()

"""Who a certificate names: the organisation's credit code and the person, per provider config.

Each CA provider puts the unified social credit code in its own place (organizationIdentifier,
serialNumber or a private OID, sometimes behind a prefix such as ``NTRCN-``); the provider's
:class:`signing.trust.IdentityFields` say where. :func:`bind` refuses a certificate whose code is
missing, malformed or another organisation's.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from signing.trust import IdentityFields, TrustStore
from trading.credit_code import is_valid_credit_code
from trading.errors import ValidationError


@dataclass(frozen=True)
class CertificateIdentity:
    """The identities a certificate carries."""

    credit_code: str | None
    """The organisation's unified social credit code, normalised (upper case, prefix removed)."""
    organisation: str | None
    """The organisationName attribute."""
    person_name: str | None
    """The commonName, when the certificate is a person's (it carries a person ID)."""
    person_id: str | None
    """The person's ID number from the provider's configured attribute."""
    provider: str | None
    """The provider whose configuration was used (None: the default configuration)."""

    @property
    def is_person(self) -> bool:
        return self.person_id is not None


class IdentityError(ValidationError):
    """Base for certificate identity problems."""

    code = "certificate_identity"


class CreditCodeMissingError(IdentityError):
    code = "credit_code_missing"

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"The certificate carries no unified social credit code ({subject}).",
            f"证书中没有统一社会信用代码（{subject}）。",
            subject=subject,
        )


class CreditCodeInvalidError(IdentityError):
    code = "credit_code_invalid"

    def __init__(self, value: str) -> None:
        super().__init__(
            f"The certificate's credit code {value!r} fails the GB 32100 check.",
            f"证书中的统一社会信用代码 {value!r} 校验位错误或格式不对。",
            credit_code=value,
        )


class CreditCodeMismatchError(IdentityError):
    """The certificate is valid but belongs to another organisation."""

    code = "credit_code_mismatch"

    def __init__(self, in_certificate: str, expected: str) -> None:
        super().__init__(
            f"The certificate belongs to organisation {in_certificate}, not {expected}.",
            f"证书所属单位的统一社会信用代码为 {in_certificate}，与 {expected} 不符。",
            credit_code=in_certificate,
            expected=expected,
        )


class PersonMismatchError(IdentityError):
    code = "person_mismatch"

    def __init__(self, in_certificate: str | None, expected: str) -> None:
        super().__init__(
            f"The certificate names person {in_certificate or '(none)'}, not {expected}.",
            f"证书持有人证件号为 {in_certificate or '（无）'}，与 {expected} 不符。",
            expected=expected,
        )


def _attribute(name: x509.Name, oid: str | None) -> str | None:
    if oid is None:
        return None
    values = name.get_attributes_for_oid(x509.ObjectIdentifier(oid))
    if not values:
        return None
    value = values[0].value
    return (value.decode() if isinstance(value, bytes) else str(value)).strip()


def extract_identity(
    cert: x509.Certificate,
    fields: IdentityFields | None = None,
    *,
    provider: str | None = None,
) -> CertificateIdentity:
    """Read the identities from ``cert`` as ``fields`` describe (defaults: organizationIdentifier
    for the code, serialNumber for the person ID). The code's check digit is not judged here."""
    fields = fields or IdentityFields()
    raw_code = _attribute(cert.subject, fields.credit_code_oid)
    code: str | None = None
    if raw_code is not None:
        code = raw_code.upper()
        prefix = fields.credit_code_prefix.upper()
        if prefix and code.startswith(prefix):
            code = code[len(prefix) :]
    person_id = _attribute(cert.subject, fields.person_id_oid)
    if person_id is not None and code is not None and person_id.upper() == code:
        # The same attribute holds the code on an organisation's certificate.
        person_id = None
    return CertificateIdentity(
        credit_code=code,
        organisation=_attribute(cert.subject, NameOID.ORGANIZATION_NAME.dotted_string),
        person_name=(
            _attribute(cert.subject, NameOID.COMMON_NAME.dotted_string) if person_id else None
        ),
        person_id=person_id,
        provider=provider,
    )


def identity_of(cert: x509.Certificate, trust: TrustStore) -> CertificateIdentity:
    """:func:`extract_identity` with the configuration of the provider that issued ``cert``."""
    provider = trust.provider_for(cert)
    if provider is None:
        return extract_identity(cert)
    return extract_identity(cert, provider.identity, provider=provider.name)


def bind(
    cert: x509.Certificate,
    organisation_credit_code: str,
    *,
    trust: TrustStore | None = None,
    fields: IdentityFields | None = None,
    person_id: str | None = None,
) -> CertificateIdentity:
    """Check that ``cert`` belongs to the organisation (and person, if given); return who it names.

    Raises :class:`CreditCodeMissingError`, :class:`CreditCodeInvalidError`,
    :class:`CreditCodeMismatchError` or :class:`PersonMismatchError`. The certificate's own
    validity (chain, revocation) is :meth:`TrustStore.validate_certificate`'s business.
    """
    if trust is not None and fields is None:
        identity = identity_of(cert, trust)
    else:
        identity = extract_identity(cert, fields)
    if identity.credit_code is None:
        raise CreditCodeMissingError(cert.subject.rfc4514_string())
    if not is_valid_credit_code(identity.credit_code):
        raise CreditCodeInvalidError(identity.credit_code)
    expected = organisation_credit_code.strip().upper()
    if identity.credit_code != expected:
        raise CreditCodeMismatchError(identity.credit_code, expected)
    if person_id is not None and (identity.person_id or "").upper() != person_id.strip().upper():
        raise PersonMismatchError(identity.person_id, person_id.strip().upper())
    return identity

"""Errors of the digital envelope (数字信封) and of the opening-key custody.

Each names one specific thing wrong with an envelope, a key file or a custody share, with a stable
``code`` and a message in Chinese and English. They are ``DomainError`` subclasses, so the web
layer and the CLI report them the same way as every other domain error.
"""

from __future__ import annotations

from trading.errors import DomainError, PermissionDeniedError, ValidationError


class EnvelopeError(ValidationError):
    """Base class: the envelope cannot be read or opened."""

    code = "envelope_invalid"


class NotCmsError(EnvelopeError):
    """The bytes are not a CMS ContentInfo at all."""

    code = "envelope_not_cms"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"This is not a CMS envelope ({reason}).",
            f"该文件不是 CMS 数字信封（{reason}）。",
            reason=reason,
        )


class WrongContentTypeError(EnvelopeError):
    """A CMS structure, but not AuthEnvelopedData (e.g. a signature or an old EnvelopedData)."""

    code = "envelope_wrong_content_type"

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"The CMS content type is {content_type}, not authEnvelopedData (RFC 5083).",
            f"CMS 内容类型为 {content_type}，不是 authEnvelopedData（RFC 5083）数字信封。",
            content_type=content_type,
        )


class UnsupportedAlgorithmError(EnvelopeError):
    """An algorithm or feature the platform does not implement."""

    code = "envelope_unsupported_algorithm"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Unsupported algorithm or feature in the envelope: {what}.",
            f"数字信封使用了不支持的算法或特性：{what}。",
            what=what,
        )


class MalformedEnvelopeError(EnvelopeError):
    """The structure breaks the ASN.1 / CMS rules."""

    code = "envelope_malformed"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The envelope is malformed: {reason}.",
            f"数字信封格式错误：{reason}。",
            reason=reason,
        )


class TruncatedEnvelopeError(EnvelopeError):
    """The file ends before the envelope does (an interrupted download or upload)."""

    code = "envelope_truncated"

    def __init__(self) -> None:
        super().__init__(
            "The envelope is truncated: the file ends before the envelope does.",
            "数字信封不完整：文件在信封结束前就已结束（可能下载或上传中断）。",
        )


class TamperedEnvelopeError(EnvelopeError):
    """The GCM authentication tag does not match: the ciphertext or the key is wrong."""

    code = "envelope_tampered"

    def __init__(self) -> None:
        super().__init__(
            "The envelope failed its integrity check (GCM tag mismatch): it was altered or "
            "damaged, or the content key is wrong. Nothing was written.",
            "数字信封完整性校验失败（GCM 认证标签不符）：信封被篡改或损坏，或内容密钥错误。"
            "未输出任何内容。",
        )


class NotARecipientError(EnvelopeError):
    """No recipient info of the envelope is addressed to the given key or certificate."""

    code = "envelope_not_recipient"

    def __init__(self) -> None:
        super().__init__(
            "The envelope is not addressed to this key: no recipient matches its certificate.",
            "该数字信封的接收者中没有此密钥（证书不匹配），无法解密。",
        )


class KeyUnwrapError(EnvelopeError):
    """A recipient info matched, but the key could not unwrap the content key."""

    code = "envelope_key_unwrap_failed"

    def __init__(self) -> None:
        super().__init__(
            "The content key could not be unwrapped with this private key (wrong key?).",
            "无法用此私钥解出内容加密密钥（私钥错误？）。",
        )


class RecipientCertificateError(ValidationError):
    """A certificate that cannot receive an envelope (unsupported key type or curve)."""

    code = "envelope_recipient_unsupported"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Cannot seal to this certificate: {reason}.",
            f"无法向该证书加密：{reason}。",
            reason=reason,
        )


class KeyFileError(ValidationError):
    """A key file (PKCS#12 or PEM) that cannot be read: wrong password, damaged, no key."""

    code = "key_file_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The key file cannot be read: {reason}.",
            f"无法读取密钥文件：{reason}。",
            reason=reason,
        )


# --- opening-key custody ----------------------------------------------------------------------


class CustodyError(DomainError):
    """Base class of the threshold custody errors."""

    code = "custody_invalid"


class InsufficientSharesError(CustodyError, PermissionDeniedError):
    """Fewer than K distinct shares: the opening key stays sealed."""

    code = "custody_too_few_shares"

    def __init__(self, given: int, threshold: int) -> None:
        super().__init__(
            f"{given} share(s) given but {threshold} are needed to rebuild the opening key.",
            f"仅提供了 {given} 份密钥分片，重建开标密钥需要 {threshold} 份。",
            given=given,
            threshold=threshold,
        )


class ForeignShareError(CustodyError, ValidationError):
    """A share that belongs to another lot (or another custody set of the same lot)."""

    code = "custody_share_other_lot"

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(
            f"A share belongs to lot {found!r}, not to {expected!r} (or to another custody set).",
            f"有一份分片属于标段 {found!r}，而非 {expected!r}（或属于另一组托管密钥）。",
            expected=expected,
            found=found,
        )


class DuplicateShareError(CustodyError, ValidationError):
    """The same share (same index) was given twice; it does not count twice."""

    code = "custody_duplicate_share"

    def __init__(self, index: int) -> None:
        super().__init__(
            f"Share number {index} was given more than once.",
            f"第 {index} 号分片重复提交。",
            index=index,
        )


class InvalidShareError(CustodyError, ValidationError):
    """A share file that is damaged, or shares that do not rebuild the lot's opening key."""

    code = "custody_share_invalid"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(
            f"Invalid custody share: {reason_en}.",
            f"密钥分片无效：{reason_zh}。",
            reason=reason_en,
        )

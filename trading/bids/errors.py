"""Bid errors; each has its own code and a message in Chinese and English."""

from __future__ import annotations

from trading.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    ValidationError,
)


class UploadNotFoundError(NotFoundError):
    """Unknown upload, or one of another organisation (which the caller may not know exists)."""

    code = "upload_not_found"

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"No upload {upload_id}.", f"上传任务 {upload_id} 不存在。", id=upload_id)


class UploadCompletedError(ConflictError):
    code = "upload_completed"

    def __init__(self, upload_id: str, state: str) -> None:
        super().__init__(
            f"The upload {upload_id} is already {state}.",
            f"上传任务 {upload_id} 已{'完成' if state == 'completed' else '终止'}。",
            id=upload_id,
            state=state,
        )


class BidNotLiveError(ConflictError):
    """The bid was already replaced or withdrawn."""

    code = "bid_not_live"

    def __init__(self, bid_id: str, state: str) -> None:
        super().__init__(
            f"The bid {bid_id} is {state}; only the live bid can be withdrawn.",
            f"投标 {bid_id} 已{'被替换' if state == 'replaced' else '撤回'}，只能撤回有效的投标。",
            id=bid_id,
            state=state,
        )


class BidNotFoundError(NotFoundError):
    code = "bid_not_found"

    def __init__(self, bid_id: str) -> None:
        super().__init__(f"No bid {bid_id}.", f"投标 {bid_id} 不存在。", id=bid_id)


class ReceiptNotFoundError(NotFoundError):
    code = "receipt_not_found"

    def __init__(self, receipt_id: str) -> None:
        super().__init__(f"No receipt {receipt_id}.", f"回执 {receipt_id} 不存在。", id=receipt_id)


class LotNotFoundError(NotFoundError):
    code = "lot_not_found"

    def __init__(self, lot_number: int) -> None:
        super().__init__(
            f"No lot {lot_number}.", f"标段（包）{lot_number} 不存在。", lot=lot_number
        )


class SubmissionNotOpenError(ConflictError):
    """The tender does not accept bids now (announced but documents not yet available,
    cancelled)."""

    code = "submission_not_open"

    def __init__(self, phase: str) -> None:
        super().__init__(
            f"The tender does not accept bids now (it is {phase}).",
            f"该项目当前（{phase}）不接受投标。",
            phase=phase,
        )


class ChunkTooLargeError(ValidationError):
    code = "chunk_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"A chunk may have at most {limit} bytes.",
            f"每个分片最多 {limit} 字节。",
            limit=limit,
        )


class ChunkHashMismatchError(ValidationError):
    code = "chunk_hash_mismatch"

    def __init__(self, number: int) -> None:
        super().__init__(
            f"Part {number} does not match its X-Content-SHA256; send it again.",
            f"分片 {number} 与其 X-Content-SHA256 不符，请重新发送。",
            number=number,
        )


class EnvelopeMismatchError(ValidationError):
    """The assembled file is not what the upload declared (size or SHA-256)."""

    code = "envelope_mismatch"

    def __init__(self, field: str, declared: object, actual: object) -> None:
        super().__init__(
            f"The uploaded file's {field} is {actual}, not the declared {declared}.",
            f"上传文件的 {field} 为 {actual}，与声明的 {declared} 不符。",
            field=field,
            declared=str(declared),
            actual=str(actual),
        )


class EnvelopeNotAddressedError(ValidationError):
    """Not a CMS AuthEnvelopedData with a recipient for the lot's opening key and one for a
    certificate bound to the uploading organisation."""

    code = "envelope_not_addressed"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(
            f"The sealed bid is not acceptable: {reason}.",
            f"投标文件数字信封不符合要求：{reason_zh}。",
            reason=reason,
        )


class OpeningKeyMissingError(NotFoundError):
    code = "opening_key_missing"

    def __init__(self, lot_number: int) -> None:
        super().__init__(
            f"Lot {lot_number} has no opening key yet; bids cannot be sealed to it.",
            f"标段（包）{lot_number} 尚未设置开标密钥，暂不能投标。",
            lot=lot_number,
        )


class OpeningKeyExistsError(ConflictError):
    code = "opening_key_exists"

    def __init__(self, lot_number: int, why: str = "exists") -> None:
        en = (
            "the deadline has passed"
            if why == "closed"
            else f"lot {lot_number} already has an opening key"
        )
        zh = "投标截止时间已过" if why == "closed" else f"标段（包）{lot_number} 已设置开标密钥"
        super().__init__(
            f"The opening key cannot be set: {en}.", f"不能设置开标密钥：{zh}。", lot=lot_number
        )


class CustodySetupInvalidError(ValidationError):
    code = "custody_invalid"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(
            f"The custody setup is not acceptable: {reason}.",
            f"密钥托管设置不符合要求：{reason_zh}。",
            reason=reason,
        )


class NotACustodianError(PermissionDeniedError):
    code = "not_a_custodian"

    def __init__(self) -> None:
        super().__init__(
            "None of your bound certificates is a custodian certificate of this lot.",
            "您绑定的证书均不是该标段（包）开标密钥的托管人证书。",
        )


class ReleaseNotYetError(ConflictError):
    code = "release_too_early"

    def __init__(self, opening_at: str) -> None:
        super().__init__(
            f"Shares are released only after the opening time ({opening_at}).",
            f"开标时间（{opening_at}）之后方可提交密钥分片。",
            opening_at=opening_at,
        )


class ShareAlreadyReleasedError(ConflictError):
    code = "share_released"

    def __init__(self) -> None:
        super().__init__("You have already released your share.", "您已提交过密钥分片。")


class ShareRejectedError(ValidationError):
    code = "share_rejected"

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(
            f"The released share is not acceptable: {reason}.",
            f"提交的密钥分片不符合要求：{reason_zh}。",
            reason=reason,
        )


class NotYourBidError(PermissionDeniedError):
    code = "not_your_bid"

    def __init__(self) -> None:
        super().__init__(
            "Only a representative of a bidding organisation may submit bids.",
            "只有投标人代表可以递交投标文件。",
        )


class ReceiptSigningUnavailableError(UnavailableError):
    code = "receipt_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The receipt could not be signed or timestamped: {reason}",
            f"回执签名或时间戳失败：{reason}",
            reason=reason,
        )

"""Tender errors; each has its own code and a message in Chinese and English."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from trading.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from trading.rules.calendar import CHINA_TZ
from trading.rules.packs import RulePack


def _local(instant: datetime) -> str:
    return instant.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


class TenderNotFoundError(NotFoundError):
    code = "tender_not_found"

    def __init__(self, tender_id: str) -> None:
        super().__init__(f"No tender {tender_id}.", f"招标项目 {tender_id} 不存在。", id=tender_id)


class DocumentNotFoundError(NotFoundError):
    code = "document_not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"No document {document_id}.", f"文件 {document_id} 不存在。", id=document_id
        )


class QuestionNotFoundError(NotFoundError):
    code = "question_not_found"

    def __init__(self, question_id: str) -> None:
        super().__init__(
            f"No question {question_id}.", f"问题 {question_id} 不存在。", id=question_id
        )


class TenderStateError(ConflictError):
    """The tender is not in a state that allows the change (e.g. editing a published tender)."""

    code = "tender_state"

    def __init__(self, action_en: str, action_zh: str, state: str) -> None:
        super().__init__(
            f"Cannot {action_en}: the tender is {state}.",
            f"招标项目当前状态为 {state}，不能{action_zh}。",
            state=state,
        )


class RuleViolationError(ValidationError):
    """A statutory rule of the tender's rule pack refuses the change; ``rule`` names it."""

    code = "rule_violation"

    def __init__(self, pack: RulePack, rule: str, detail_en: str, detail_zh: str) -> None:
        citation = pack.cite(rule)
        super().__init__(
            f"Rule {rule} ({citation.en}): {detail_en}",
            f"违反规则 {rule}（{citation.zh}）：{detail_zh}",
            rule=rule,
            rule_pack=pack.key,
        )
        self.code = f"rule_{rule}"  # type: ignore[misc]
        self.rule = rule


class DocumentRejectedError(ValidationError):
    """The uploaded file is not an acceptable signed PDF."""

    code = "document_rejected"

    def __init__(self, problems: Sequence[str]) -> None:
        listed = "; ".join(problems) or "unknown"
        super().__init__(
            f"The document was rejected: {listed}.",
            f"文件未通过校验：{listed}。",
            problems=", ".join(problems),
        )
        self.problems = tuple(problems)


class DocumentTooLargeError(ValidationError):
    code = "document_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The document is larger than {limit // (1024 * 1024)} MiB.",
            f"文件超过 {limit // (1024 * 1024)} MiB 上限。",
            limit=limit,
        )


class SubmissionClosedError(ConflictError):
    code = "submission_closed"

    def __init__(self, deadline: datetime) -> None:
        super().__init__(
            f"The deadline ({_local(deadline)} China time) has passed.",
            f"投标截止时间（北京时间 {_local(deadline)}）已过。",
            deadline=deadline.isoformat(),
        )


class DocumentsNotAvailableError(ConflictError):
    code = "documents_not_available"

    def __init__(self, available_from: datetime) -> None:
        super().__init__(
            f"The documents are available from {_local(available_from)} China time.",
            f"招标文件自北京时间 {_local(available_from)} 起提供。",
            available_from=available_from.isoformat(),
        )


class DownloadsSealedError(PermissionDeniedError):
    """Before the deadline nobody, the agency included, may learn who downloaded the documents."""

    code = "downloads_sealed"

    def __init__(self, deadline: datetime) -> None:
        super().__init__(
            f"Who downloaded the documents stays sealed until the deadline ({_local(deadline)}).",
            f"投标截止（北京时间 {_local(deadline)}）前，文件下载记录保密，任何人不得查看。",
            deadline=deadline.isoformat(),
        )


class NotYourTenderError(PermissionDeniedError):
    code = "not_your_tender"

    def __init__(self) -> None:
        super().__init__(
            "Only the agency that created the tender may do this.",
            "只有创建该招标项目的招标人或代理机构可执行此操作。",
        )

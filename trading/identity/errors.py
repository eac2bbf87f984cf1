"""Identity errors; each has its own code (see :class:`InvalidCredentialsError` for why not all)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from trading.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)


class InvalidCredentialsError(AuthenticationError):
    """Unknown user or wrong password.

    The two are different classes (and different reasons in the audit log), but both answer the
    client with the same code and message, so that the login form cannot be used to find out
    which usernames exist.
    """

    code = "invalid_credentials"

    def __init__(self, reason: str) -> None:
        super().__init__("Wrong username or password.", "用户名或密码错误。", reason=reason)
        self.reason = reason


class UnknownUserError(InvalidCredentialsError):
    def __init__(self) -> None:
        super().__init__("unknown_user")


class WrongPasswordError(InvalidCredentialsError):
    def __init__(self) -> None:
        super().__init__("wrong_password")


class AccountLockedError(AuthenticationError):
    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"Too many failed sign-ins; the account is locked until {until:%Y-%m-%d %H:%M} UTC.",
            f"登录失败次数过多，账户已锁定至 {until:%Y-%m-%d %H:%M}（UTC）。",
            until=until.isoformat(),
        )


class AccountDisabledError(AuthenticationError):
    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__("This account is disabled.", "该账户已停用。")


class SessionInvalidError(AuthenticationError):
    code = "session_invalid"

    def __init__(self, reason: str) -> None:
        messages = {
            "missing": ("Sign in first.", "请先登录。"),
            "unknown": ("The session is not valid; sign in again.", "会话无效，请重新登录。"),
            "expired": ("The session has expired; sign in again.", "会话已过期，请重新登录。"),
            "revoked": ("The session was ended; sign in again.", "会话已注销，请重新登录。"),
        }
        en, zh = messages.get(reason, messages["unknown"])
        super().__init__(en, zh, reason=reason)
        self.reason = reason


class CsrfError(PermissionDeniedError):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(
            "The form's security token is missing or wrong; reload the page and try again.",
            "表单安全令牌缺失或错误，请刷新页面后重试。",
        )


class NonceError(AuthenticationError):
    """A certificate-login challenge that is unknown, expired or already used (a replay)."""

    code = "nonce_invalid"

    def __init__(self, reason: str) -> None:
        messages = {
            "unknown": ("Unknown sign-in challenge.", "登录挑战码不存在。"),
            "expired": ("The sign-in challenge has expired.", "登录挑战码已过期。"),
            "replayed": ("The sign-in challenge was already used.", "登录挑战码已被使用（重放）。"),
        }
        en, zh = messages[reason]
        super().__init__(en, zh, reason=reason)
        self.code = f"nonce_{reason}"  # type: ignore[misc]
        self.reason = reason


class CertificateLoginError(AuthenticationError):
    """The certificate cannot be used to sign in; ``reason`` says why."""

    code = "certificate_rejected"

    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "not_bound": (
            "This certificate is not bound to any account.",
            "该证书未绑定任何账户。",
        ),
        "expired": ("The certificate has expired or is not yet valid.", "证书已过期或尚未生效。"),
        "revoked": ("The certificate has been revoked.", "证书已被吊销。"),
        "untrusted": (
            "The certificate was not issued by a trusted CA.",
            "证书不是由受信任的 CA 签发。",
        ),
        "bad_signature": (
            "The signature over the challenge does not verify.",
            "对登录挑战码的签名验证失败。",
        ),
        "malformed": ("The certificate or signature cannot be read.", "证书或签名格式错误。"),
        "indeterminate": (
            "The certificate's status cannot be determined right now.",
            "暂时无法确定证书状态。",
        ),
    }

    def __init__(self, reason: str, detail: str = "") -> None:
        en, zh = self.MESSAGES[reason]
        if detail:
            en, zh = f"{en} ({detail})", f"{zh}（{detail}）"
        super().__init__(en, zh, reason=reason)
        self.code = f"certificate_{reason}"  # type: ignore[misc]
        self.reason = reason


class CreditCodeError(ValidationError):
    code = "credit_code_invalid"

    def __init__(self, value: str) -> None:
        super().__init__(
            f"{value!r} is not a valid unified social credit code (18 characters, check digit).",
            f"{value!r} 不是有效的统一社会信用代码（18 位，含校验码）。",
            field="credit_code",
        )


class DuplicateError(ConflictError):
    code = "duplicate"

    def __init__(self, what_en: str, what_zh: str, field: str) -> None:
        super().__init__(f"{what_en} is already registered.", f"{what_zh}已被注册。", field=field)


class OrganisationNotFoundError(NotFoundError):
    code = "organisation_not_found"

    def __init__(self, org_id: str) -> None:
        super().__init__(f"No organisation {org_id}.", f"主体 {org_id} 不存在。", org_id=org_id)


class PersonNotFoundError(NotFoundError):
    code = "person_not_found"

    def __init__(self, person_id: str) -> None:
        super().__init__(f"No person {person_id}.", f"人员 {person_id} 不存在。")


class OrganisationNotApprovedError(PermissionDeniedError):
    code = "organisation_not_approved"

    def __init__(self) -> None:
        super().__init__(
            "The organisation has not been approved by the platform yet.",
            "该主体尚未通过平台审核。",
        )


class RoleNotAllowedError(ValidationError):
    code = "role_not_allowed"

    def __init__(self, role: str, org_type: str) -> None:
        super().__init__(
            f"Role {role} cannot be held in an organisation of type {org_type}.",
            f"{org_type} 类型的主体不能设置角色 {role}。",
            field="role",
        )


class AccessDeniedError(PermissionDeniedError):
    code = "forbidden"

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(
            f"Not allowed to {action}: {reason}.",
            f"无权执行 {action}：{reason}。",
            action=action,
            reason=reason,
        )

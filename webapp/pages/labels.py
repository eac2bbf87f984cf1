"""The Chinese names (message ids) of the domain's enumerations, shown through the catalogue."""

from __future__ import annotations

from typing import Any

from trading.rules.packs import Regime
from trading.tenders.model import DocumentKind, EvaluationMethod, Phase, Procedure, TenderStatus
from webapp.pages.render import N_

CATEGORY = {Regime.CONSTRUCTION: N_("工程建设"), Regime.PROCUREMENT: N_("政府采购")}
PROCEDURE = {Procedure.OPEN: N_("公开招标"), Procedure.INVITED: N_("邀请招标")}
METHOD = {
    EvaluationMethod.COMPREHENSIVE: N_("综合评估法"),
    EvaluationMethod.LOWEST_PRICE: N_("经评审的最低投标价法"),
}
STATUS = {
    TenderStatus.DRAFT: N_("草稿"),
    TenderStatus.PUBLISHED: N_("已发布"),
    TenderStatus.CANCELLED: N_("已终止"),
}
PHASE = {
    Phase.DRAFT: N_("草稿"),
    Phase.ANNOUNCED: N_("已公告"),
    Phase.SUBMISSION_OPEN: N_("投标中"),
    Phase.SUBMISSION_CLOSED: N_("已截止"),
    Phase.CANCELLED: N_("已终止"),
}
DOCUMENT_KIND = {
    DocumentKind.NOTICE: N_("招标公告"),
    DocumentKind.DOCUMENTS: N_("招标文件"),
    DocumentKind.AMENDMENT: N_("澄清或修改文件"),
}
SIGNATURE = {"valid": N_("签章有效")}

LABELS: dict[str, dict[Any, str]] = {
    "category": CATEGORY,
    "procedure": PROCEDURE,
    "method": METHOD,
    "status": STATUS,
    "phase": PHASE,
    "kind": DOCUMENT_KIND,
    "signature": SIGNATURE,
}
"""Passed to templates as ``labels``: ``_(labels.phase[tender.phase(now)])``."""

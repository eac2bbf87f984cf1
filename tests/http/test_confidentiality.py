"""Before the deadline, nobody but a bidder itself can learn that its bid exists.

Two bidders submit. Every GET route of the OpenAPI document is then crawled as every other role
(each signed-in role of the fixture, including a third bidder that did not bid, and anonymously),
with the tender, lot, document, upload, receipt and audit-event ids we know substituted into the
path. The crawl must show no identifier of the bidders or their bids, and must answer exactly as
the same crawl did before any bid was submitted, except where noted in ``UNCOMPARABLE``.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.http.bid_world import BidWorld, bid_for, open_tender, submit
from tests.http.test_access_matrix import routes
from trading.identity.model import OrgType, Role

# Routes whose answers legitimately change between the two crawls, and why. None of them may
# show a bidder identifier either (checked for every route).
UNCOMPARABLE = {
    # The log's size and root grow with every event: the crawl's own sign-ins and recorded
    # reads (audit.searched, audit.event_read) as much as sealed bid events, whose number the
    # audit module hides by padding each period with cover events (TENDERHALL_AUDIT_COVER_BUCKET).
    "/api/audit/consistency",
    "/api/audit/export",
    # Unfiltered, the log lists the crawl's own recorded reads; the search by tender is compared.
    "/api/audit/events",
    # Ids only known after the submissions (the events' sequence numbers): the answer is the
    # sealed placeholder ({"seq": n, "sealed": true}) or a refusal, checked for identifiers only.
    "/api/audit/events/{seq}",
    "/api/audit/events/{seq}/inclusion",
}
SKIPPED = {
    "/objects/{key}",  # needs an HMAC-signed link; bid objects never get one before the opening
}
PLACEHOLDER = "<id>"


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "request_id"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def normalise(text: str, supplied: list[str]) -> Any:
    """The answer with the ids the caller itself put in the URL replaced (so an answer about an
    unknown id and one about a real id compare equal) and per-request ids dropped."""
    for value in supplied:
        text = text.replace(value, PLACEHOLDER)
    try:
        return _strip(json.loads(text))
    except ValueError:
        return text


async def crawl(
    bw: BidWorld, paths: list[str], ids: dict[str, list[str]]
) -> dict[tuple[str, str], tuple[int, str, list[str]]]:
    """(role, url template + which id) -> (status, raw text, ids supplied in the URL)."""
    found: dict[tuple[str, str], tuple[int, str, list[str]]] = {}
    who: dict[str, dict[str, str]] = {str(r): bw.h(r) for r in bw.actors}
    who["anonymous"] = {}
    for role, headers in who.items():
        actor = bw.actors[Role(role)] if role != "anonymous" else None
        for path in paths:
            names = re.findall(r"\{(\w+)\}", path)
            variants: list[dict[str, str]] = [{}]
            for name in names:
                if name == "org_id":
                    values = [actor.org_id if actor else bw.orgs[OrgType.AGENCY]]
                elif name == "person_id":
                    values = [actor.person_id if actor else "nobody"]
                else:
                    values = ids[name]
                variants = [{**v, name: value} for v in variants for value in values]
            for index, variant in enumerate(variants):
                url = path
                for name, value in variant.items():
                    url = url.replace("{" + name + "}", value)
                if path == "/api/audit/events":
                    url += f"?tender_id={ids['tender_id'][0]}"
                response = await bw.client.get(url, headers=headers)
                supplied = [v for k, v in variant.items() if k not in {"tender_id", "lot_number"}]
                found[(role, f"{path}#{index}")] = (response.status_code, response.text, supplied)
    return found


# SQLite only: what is shown is decided above the database (the bid tests run on both), and the
# crawl's ~400 requests would double the suite's time on PostgreSQL.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_nothing_reveals_a_bid_before_the_deadline(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    documents = await bw.client.get(
        f"/api/tenders/{tender.id}/documents", headers=bw.h(Role.AGENCY_OFFICER)
    )
    schema = (await bw.client.get("/schema/openapi.json")).json()
    paths = [p for m, p in routes(schema) if m == "GET" and p not in SKIPPED]

    fake_upload, fake_receipt = uuid.uuid4().hex, str(uuid.uuid4())
    base_ids = {
        "tender_id": [tender.id],
        "lot_number": ["1"],
        "document_id": [d["id"] for d in documents.json()],
        "name": ["no-such-provider"],
        "key": ["x"],
    }
    before = await crawl(
        bw,
        paths,
        {**base_ids, "upload_id": [fake_upload], "receipt_id": [fake_receipt], "seq": ["1"]},
    )

    receipts = []
    uploads = []
    for bidder in ("bidder-1-org", "bidder-2-org"):
        receipt = await submit(bw, bidder, tender, bid_for(bw, bidder, tender))
        receipts.append(receipt["receipt"])
        listed = await bw.client.get("/api/receipts", headers=bw.bidders[bidder].headers)
        assert listed.json()[0]["receipt"] == receipt["receipt"]
    async with bw.app.state.services.uow() as uow:
        for r in receipts:
            bid = await uow.bids.get_bid(r["bid_id"])
            assert bid is not None
            uploads.append(bid.upload_id)

    after = await crawl(
        bw,
        paths,
        {
            **base_ids,
            "upload_id": uploads[:1],
            "receipt_id": [r["receipt_id"] for r in receipts[:1]],
            "seq": [str(r["audit_seq"]) for r in receipts[:1]],
        },
    )

    secrets: dict[str, str] = {}
    for party in bw.bidders.values():
        secrets[party.org_id] = "bidder org id"
        secrets[party.credit_code] = "bidder credit code"
        secrets[party.person_id] = "bidder person id"
    for r, upload_id in zip(receipts, uploads, strict=True):
        secrets[r["bid_id"]] = "bid id"
        secrets[r["receipt_id"]] = "receipt id"
        secrets[upload_id] = "upload id"
        secrets[r["envelope_sha256"]] = "envelope digest"

    assert before.keys() == after.keys()
    leaks: list[str] = []
    changed: list[str] = []
    for key, (status, text, supplied) in after.items():
        shown = text
        for value in supplied:
            shown = shown.replace(value, PLACEHOLDER)  # the caller's own input, echoed
        _, before_text, _ = before[key]
        for secret, what in secrets.items():
            # An organisation registry lists every registered organisation, bidding or not: an
            # identifier that was already there before any bid tells nothing about bids.
            if secret in shown and secret not in before_text:
                leaks.append(f"{key}: {what} in {shown[:200]}")
        path = key[1].split("#")[0]
        if path in UNCOMPARABLE:
            continue
        before_status, _, before_supplied = before[key]
        if (before_status, normalise(before_text, before_supplied)) != (
            status,
            normalise(text, supplied),
        ):
            changed.append(f"{key}: {before_status} -> {status}: {text[:300]}")
    assert leaks == []
    assert changed == []
    # The crawl reached the bid routes for real: the roles other than bidders were refused or
    # told "not found", exactly as for ids that never existed.
    assert after[(str(Role.BIDDER_REP), "/api/uploads/{upload_id}#0")][0] == 404
    assert after[(str(Role.SUPERVISOR), "/api/receipts/{receipt_id}#0")][0] == 403

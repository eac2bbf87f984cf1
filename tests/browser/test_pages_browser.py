"""People's journeys in a real browser: the agency drafts, uploads sealed documents and
publishes; a bidder signs in with a certificate read in the browser, downloads the documents and
asks a question. Each page is photographed and must show its Chinese heading."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from signing.custody import CERTIFICATE_NAME
from tests.browser.conftest import UPLOAD_CHUNK, Platform, _clean_env
from tests.e2e.test_cli_platform import ROOT
from trading.rules.calendar import CHINA_TZ
from webapp.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any, platform: Platform) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", base_url=platform.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page: Any, platform: Platform, name: str, heading: str) -> None:
    """Photograph the page; it must show ``heading`` (Chinese) and not be blank."""
    assert page.locator("h1").first.inner_text().strip() == heading
    path = platform.screenshots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    # A blank or tofu-only page compresses to almost nothing; rendered CJK text does not.
    assert path.stat().st_size > 15_000, f"{path} looks empty"


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#f-username", username)
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_agency_drafts_uploads_and_publishes(page: Any, platform: Platform, tmp_path: Path) -> None:
    page.goto("/")
    shot(page, platform, "01-portal", "交易公告")
    sign_in(page, "agency")
    page.goto("/agency/tenders/new")
    shot(page, platform, "02-new-tender", "新建招标项目")

    now = datetime.now(CHINA_TZ).replace(second=0, microsecond=0)

    def local(d: datetime) -> str:
        return d.strftime("%Y-%m-%dT%H:%M")

    page.fill("#f-title", "浏览器测试 <script>alert(1)</script> 道路工程")
    page.fill("#f-lot_name", "第一标段")
    page.fill("#f-budget", "1000000")
    page.fill("#f-documents_from", local(now + timedelta(hours=1)))
    page.fill("#f-opening_at", local(now + timedelta(days=10)))
    page.fill("#f-deadline", local(now + timedelta(days=10)))
    page.fill("#f-security", "50000")
    # Inline check (htmx): the rule pack's rule is named next to the deadline and the security.
    page.locator("#e-deadline").wait_for()
    assert "documents_period" in page.locator("#e-deadline").inner_text()
    shot(page, platform, "03-rule-violation", "新建招标项目")
    deadline = now + timedelta(days=30)
    page.fill("#f-deadline", local(deadline))
    page.fill("#f-opening_at", local(deadline))
    page.fill("#f-security", "10000")
    page.locator("#f-title").focus()
    page.locator("#e-deadline").wait_for(state="detached")
    page.click("#tender-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/agency/tenders/[0-9a-f-]+\?done=saved"))
    # The script payload is shown as text, never run.
    assert "<script>alert(1)</script>" in page.locator("h1").inner_text()

    wrong = tmp_path / "notice.txt"
    wrong.write_text("not a pdf")
    page.set_input_files("#f-file", str(wrong))
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    assert "只接受已签章的 PDF 文件" in page.locator("#e-file").inner_text()

    # The PDFs `tenderhall demo` sealed with the demo agency's certificate.
    for kind in ("notice", "documents"):
        page.select_option("#f-kind", kind)
        page.set_input_files(
            "#f-file", str(platform.data_dir / "demo" / "samples" / f"{kind}-sealed.pdf")
        )
        page.click("form[enctype='multipart/form-data'] button[type=submit]")
        page.wait_for_url(re.compile(r".*\?done=uploaded"))
    assert page.locator(".badge.valid").count() == 2
    shot(page, platform, "04-tender-documents", page.locator("h1").inner_text())
    page.click("form[action$='/publish'] button")
    page.wait_for_url(re.compile(r".*\?done=published"))
    assert "项目已发布" in page.locator("[role=status]").inner_text()

    # The clarification: far from the deadline, it does not move it.
    page.fill("#f-title", "关于工期的澄清")
    page.fill("#f-body", "工期调整为 180 日历天。")
    page.click("form[action$='/clarifications'] button")
    page.wait_for_url(re.compile(r".*\?done=clarified"))
    shot(page, platform, "05-published", page.locator("h1").inner_text())

    # Signing out; a member-only page then sends the browser to sign in, and back afterwards.
    page.click("form[action='/logout'] button")
    page.goto("/agency/tenders")
    assert "/login?next=%2Fagency%2Ftenders" in page.url
    page.fill("#f-username", "agency")
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/agency/tenders$"))
    shot(page, platform, "06-my-tenders", "我的招标项目")


def test_bidder_signs_in_with_a_certificate_downloads_and_asks(
    page: Any, platform: Platform
) -> None:
    page.goto("/login")
    shot(page, platform, "07-login", "登录")
    # An EC key (WebCrypto) for bidder 3, read from the local file only.
    page.set_input_files("#f-p12", str(next(platform.pki_dir.glob("*/bidder-3-rep.p12"))))
    page.fill("#f-p12pw", "demo")
    page.click("#cert-form button")
    page.wait_for_url(re.compile(r".*/$"))
    assert page.locator(".who").inner_text() == "投标人"

    tender_id = platform.tenders["published"]
    page.goto(f"/notices/{tender_id}")
    shot(page, platform, "08-notice", "示例市滨江路道路改造工程施工")
    link = page.locator("a[href*='/documents/']").first
    response = page.context.request.get(link.get_attribute("href"))
    assert response.ok and response.body().startswith(b"%PDF-")
    shown = page.locator("li", has=link).inner_text()
    assert hashlib.sha256(response.body()).hexdigest()[:16] in shown

    page.click("text=提出疑问")
    page.fill("#f-text", "请问是否接受联合体投标？")
    page.click("form button[type=submit] >> text=提交")
    page.wait_for_url(re.compile(r".*\?done=asked"))
    shot(page, platform, "09-question", "提出疑问")

    page.goto("/account/certificates")
    assert page.locator("tbody tr").count() == 2  # the representative's and the company's
    shot(page, platform, "10-certificates", "我的证书")


def test_english_and_large_text_are_remembered(page: Any, platform: Platform) -> None:
    page.goto("/")
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Notices"
    page.click("text=Large text")
    assert "care" in (page.locator("body").get_attribute("class") or "")
    page.goto("/stats")
    assert page.locator("h1").inner_text() == "Statistics"
    page.screenshot(path=str(platform.screenshots / "11-stats-en-care.png"), full_page=True)
    # Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"


def test_a_clarification_appears_on_an_open_notice_without_a_reload(
    browser: Any, platform: Platform
) -> None:
    tender_id = platform.tenders["published_procurement"]
    reader = browser.new_context(locale="zh-CN", base_url=platform.url).new_page()
    # A DOM mark rather than a polled JavaScript predicate: the page's CSP forbids the eval that
    # Playwright's wait_for_function uses for one.
    reader.add_init_script(
        "document.addEventListener('htmx:sseOpen', "
        "() => document.documentElement.setAttribute('data-sse', 'open'))"
    )
    reader.goto(f"/notices/{tender_id}")
    reader.evaluate("window.__stillHere = true")  # gone if the page were reloaded
    reader.wait_for_selector("html[data-sse='open']", state="attached")  # SSE connection open

    agency = browser.new_context(locale="zh-CN", base_url=platform.url).new_page()
    sign_in(agency, "agency")
    agency.goto(f"/agency/tenders/{tender_id}")
    agency.fill("#f-title", "关于交货期的澄清")
    agency.fill("#f-body", "交货期为合同签订后 30 日。")
    agency.click("form[action$='/clarifications'] button")
    agency.wait_for_url(re.compile(r".*\?done=clarified"))

    reader.locator("#live-clarifications").get_by_text("关于交货期的澄清").wait_for(timeout=10_000)
    assert reader.evaluate("window.__stillHere") is True
    shot(reader, platform, "12-live-clarification", "示例市政府办公设备采购项目")
    reader.context.close()
    agency.context.close()


def test_bidder_uploads_a_sealed_envelope_that_resumes_after_a_dropped_connection(
    page: Any, platform: Platform, tmp_path: Path
) -> None:
    from signing.envelope import seal

    tender_id = platform.tenders["published"]
    opening = x509.load_pem_x509_certificate(
        (platform.data_dir / "demo" / "custody" / tender_id / CERTIFICATE_NAME).read_bytes()
    )
    org = x509.load_pem_x509_certificate(
        next(platform.pki_dir.glob("*/bidder-1-org.cert.pem")).read_bytes()
    )
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(5 * UPLOAD_CHUNK + 1234))
    envelope = tmp_path / "bid.p7m"
    seal(source, envelope, [org, opening])
    digest = hashlib.sha256(envelope.read_bytes()).hexdigest()

    sign_in(page, "bidder1")
    page.goto(f"/bidder/tenders/{tender_id}/submit")
    shot(page, platform, "13-submit", "递交投标文件")
    sent: list[str] = []
    drop = {"on": True}

    def network(route: Any) -> None:
        if route.request.method == "PUT":
            sent.append(route.request.url.rsplit("/", 1)[1])
            if drop["on"] and route.request.url.endswith("/parts/3"):
                route.abort("connectionreset")  # the line drops during part 3
                return
        route.continue_()

    page.route("**/api/uploads/**", network)
    page.set_input_files("#f-envelope", str(envelope))
    page.click("#bid-upload button[type=submit]")
    page.locator("#upload-resume").wait_for(state="visible", timeout=30_000)
    assert "上传中断" in page.locator("#upload-status").inner_text()
    assert page.locator("#upload-progress").evaluate("p => p.value") == 2
    shot(page, platform, "14-upload-interrupted", "递交投标文件")

    drop["on"] = False
    page.click("#upload-resume")
    page.locator("#upload-receipt").wait_for(state="visible", timeout=30_000)
    assert sent.count("1") == 1 and sent.count("2") == 1  # not sent again on resume
    assert page.locator("#receipt-sha").inner_text() == digest
    shot(page, platform, "15-receipt", "递交投标文件")

    link = page.locator("#receipt-download").get_attribute("href")
    receipt = page.context.request.get(link)
    assert receipt.ok
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_bytes(receipt.body())
    assert json.loads(receipt.body())["receipt"]["envelope_sha256"] == digest
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "webapp",
            "bid",
            "verify-receipt",
            str(receipt_file),
            "--envelope",
            str(envelope),
        ],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The bid is live and can be withdrawn before the deadline; the receipts page lists both.
    page.goto(f"/bidder/tenders/{tender_id}/submit")
    page.click("text=撤回投标")
    page.wait_for_url(re.compile(r".*\?done=withdrawn"))
    page.goto("/bidder/receipts")
    assert page.locator("tbody tr").count() == 2
    shot(page, platform, "16-receipts", "我的回执")

"""The live dashboard in headless Chromium: place an order by clicking, watch it confirm on screen."""

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Chromium from Debian; without these flags it tries to reach Google's hosts at every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / ".data" / "screenshots"


@pytest.fixture
def page(tmp_path, request):
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: `make test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        yield page
        if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


@pytest.fixture
def dashboard(live, page):
    """The dashboard open, with the account's token entered as a person would."""
    page.goto(f"{live.base_url}/")
    page.fill("#token", live.token)
    page.click("text=Use token")
    return page


def test_an_order_placed_by_clicking_is_seen_to_confirm(dashboard):
    page = dashboard
    page.fill("input[name=amount]", "2")
    page.click("#place")

    timeline = page.locator(".timeline").first
    expect(timeline.locator('li[data-status="confirmed"]')).to_be_visible(timeout=30_000)
    statuses = timeline.locator("li").evaluate_all("items => items.map(item => item.dataset.status)")
    assert statuses == ["pending", "routing", "building", "submitted", "confirmed"]
    expect(timeline.locator('li[data-status="routing"]')).to_contain_text("chosen")
    expect(page.locator("#recent tbody tr").first).to_contain_text("confirmed", timeout=10_000)


def test_a_refused_order_shows_the_message_of_its_field(dashboard):
    page = dashboard
    page.fill("input[name=tokenOut]", "SOL")
    page.click("#place")

    expect(page.locator("#order-error")).to_contain_text("tokenOut: Must differ from tokenIn.")

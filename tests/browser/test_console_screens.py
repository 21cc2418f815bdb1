"""The console's Partners, Billing, Audit log and Operators screens in a real browser: an
operator creates a partner (a bad MSN first, shown at once) and reads its API key, shown once;
invites a user; runs the billing sweep and sees the run; finds the partner's creation in the
audit log; creates an operator. axe on every page; screenshots light and dark at 360 px."""

import re

from playwright.sync_api import Page, expect

from conftest import assert_accessible, screenshot
from test_console import operator_page


def nav(page: Page, section: str) -> None:
    page.get_by_role("navigation", name="Console").get_by_role("link", name=section).click()


def create_partner(page: Page, name: str) -> str:
    page.goto("/console/partners")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Vipps MSN").fill("12x")
    page.get_by_role("button", name="Create partner").click()
    expect(page.locator("#vipps_msn-error")).to_contain_text("4–6 digits")
    page.get_by_label("Vipps MSN").fill("424242")
    page.get_by_role("button", name="Create partner").click()
    expect(page.get_by_role("heading", name=f"Partner {name}")).to_be_visible()
    key = page.locator("#secret").inner_text()
    assert key.startswith("dp_"), key
    expect(page.locator("#copy-hint")).to_contain_text("shown only this once")
    return key


def test_an_operator_creates_a_partner_and_sees_its_key_once(page):
    operator_page(page)
    nav(page, "Partners")
    expect(page.get_by_role("heading", name="Partners")).to_be_visible()
    assert_accessible(page)
    key = create_partner(page, "Kirkens Testhjelp")
    assert_accessible(page)
    screenshot(page, "console-partner-created")

    page.get_by_role("link", name="Invite the partner's first user").click()
    page.get_by_label("Email").fill("kari@example.org")
    page.get_by_role("button", name="Invite user").click()
    expect(page.locator("#secret")).to_contain_text("/portal/set-password/")
    page.get_by_role("link", name="Back to the partner").click()
    expect(page.locator("#user-table")).to_contain_text("kari@example.org")
    assert_accessible(page)

    nav(page, "Partners")
    row = page.locator("tr", has_text="Kirkens Testhjelp")
    expect(row).to_contain_text("424242")
    assert key not in page.content()
    screenshot(page, "console-partners")

    nav(page, "Billing")
    page.get_by_role("button", name="Run billing sweep now").click()
    expect(page.locator("#notice")).to_contain_text("billing sweep is queued")
    # The run shows once its job is done.
    for _ in range(20):
        page.reload()
        if page.locator("tr[data-run^='sweep:manual-']").count():
            break
        page.wait_for_timeout(250)
    expect(page.locator("tr[data-run^='sweep:manual-']").first).to_contain_text("done")
    assert_accessible(page)
    screenshot(page, "console-billing")

    nav(page, "Audit log")
    page.get_by_label("Action").fill("partner.")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=partner\."))
    expect(page.locator("tr[data-action='partner.create']").first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-audit")

    nav(page, "Operators")
    page.get_by_label("Email").fill("reader@example.org")
    page.get_by_label("Read-only").check()
    page.get_by_role("button", name="Create operator").click()
    expect(page.locator("#secret")).to_contain_text("/console/set-password/")
    page.get_by_role("link", name="Back to the operators").click()
    expect(page.locator("tr[data-operator='reader@example.org']")).to_contain_text("Read-only")
    assert_accessible(page)
    screenshot(page, "console-operators")


def test_the_new_screens_dark_and_narrow_for_a_read_only_operator(new_context):
    page = new_context(color_scheme="dark", width=360, height=800).new_page()
    operator_page(page, read_only=True)
    for path, button, shot in [
        ("/console/partners", "Create partner", "console-partners-read-only-dark-narrow"),
        ("/console/billing", "Run billing sweep now", "console-billing-read-only-dark-narrow"),
        ("/console/operators", "Create operator", "console-operators-read-only-dark-narrow"),
    ]:
        page.goto(path)
        expect(page.locator("#read-only-reason")).to_contain_text("read-only operator")
        expect(page.get_by_role("button", name=button)).to_be_disabled()
        assert_accessible(page)
        screenshot(page, shot)
    page.goto("/console/audit")
    assert_accessible(page)
    screenshot(page, "console-audit-dark-narrow")
    page.goto("/console/nope")
    expect(page.get_by_role("link", name="Go to the console's start page")).to_have_attribute(
        "href", "/console/"
    )

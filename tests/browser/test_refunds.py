"""Refunds in a browser: a donor's first payment is refunded in part from the Dialogue page's
payment history (Refund…, the amount left prefilled, a description, the confirmation), its
progress is shown, without a reload, until Vipps has made it, and the figures are net of it; axe on the refund
page; screenshots light and dark at 360 px. And a payment not taken yet (the second period's,
DUE) is cancelled: Cancel…, the confirmation, then the period shown as cancelled."""

import calendar
import json
import random
import re
import string
import time
import urllib.request
import uuid
from datetime import date, timedelta

from conftest import BASE_URL, assert_accessible, log_in, screenshot
from playwright.sync_api import Page, expect
from test_crm import create_group_with_terms
from test_journey import (  # noqa: F401 (own_partner is a fixture)
    INBOUND_TOKEN,
    SIM,
    fill_dialogue_form,
    own_partner,
    post_json,
    reload_until,
    second_payment_after,
    sim_today,
    unique_keyword,
)


def approve_in_vipps(phone: str) -> None:
    """The donor confirms the agreement of `phone` (the simulator's control API), once drafted."""
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(f"{SIM}/_sim/agreements", timeout=10) as response:
            drafted = [a for a in json.loads(response.read()) if a.get("phoneNumber") == phone[1:]]
        if drafted:
            post_json(f"{SIM}/_sim/agreements/{drafted[0]['agreementId']}/approve", {})
            return
        assert time.monotonic() < deadline, "the agreement was never drafted"
        time.sleep(0.3)


def an_agreement_with_its_first_payment(page: Page) -> str:
    """A new Dialogue, a donor who texts its keyword and confirms in Vipps; returns the Dialogue
    page's URL once the donor's first payment is CHARGED there."""
    create_group_with_terms(page, f"Donors {uuid.uuid4().hex[:6]}")
    page.get_by_role("link", name="Create Dialogue with this group").click()
    keyword = unique_keyword()
    fill_dialogue_form(page, keyword, sim_today())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monthly giver")
    dialogue_url = page.url
    phone = "+4741" + "".join(random.choices(string.digits, k=6))
    post_json(
        f"{BASE_URL}/webhooks/sms/inbound",
        {"message_id": f"gw-{uuid.uuid4().hex}", "from": phone, "to": "2160", "text": keyword},
        INBOUND_TOKEN,
    )
    approve_in_vipps(phone)
    card = page.locator("[data-agreement]").first
    reload_until(
        page,
        lambda: card.count() == 1 and "CHARGED" in card.text_content(),
        "the first payment charged",
    )
    return dialogue_url


def a_month_later(day: date) -> date:
    """The same day a month later, clamped to the month's end (as the billing periods are)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def narrow_history(new_context, page: Page, dialogue_url: str, name: str) -> Page:
    """The Dialogue page dark at 360 px with the first payment history open: no sideways
    scrolling; a screenshot `name`. Returns that page."""
    narrow = new_context(color_scheme="dark", width=360, height=740).new_page()
    log_in(narrow, page.user)
    narrow.goto(dialogue_url)
    narrow.locator("[data-agreement] details summary").first.click()
    overflow = narrow.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    screenshot(narrow, name)
    return narrow


def test_a_payment_is_refunded_in_part_from_the_dialogue_page(own_partner, new_context):
    page = own_partner
    dialogue_url = an_agreement_with_its_first_payment(page)
    card = page.locator("[data-agreement]").first
    card.get_by_text("Payment history (1)").click()
    card.get_by_role("link", name="Refund…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refund this payment?")
    amount = page.get_by_label(re.compile("^Amount in NOK"))
    expect(amount).to_have_value("49,90")
    amount.fill("20,00")
    page.get_by_label(re.compile("^Description the donor sees")).fill("Donor called: gave twice")
    assert_accessible(page)
    screenshot(page, "refund-confirm")
    page.get_by_role("button", name="Refund").click()

    expect(page.get_by_role("status")).to_contain_text("Refund requested.")
    card = page.locator("[data-agreement]").first
    card.get_by_text("Payment history (1)").click()
    refund = card.locator("tr.refund")
    expect(refund).to_contain_text("Refund of 20,00")
    # Without a reload: htmx re-reads the payment's rows while the refund is in progress.
    expect(refund).to_contain_text("refunded", timeout=30_000)
    expect(card.locator("tr[data-charge]")).to_contain_text("PARTIALLY_REFUNDED")
    expect(card.locator("tbody[data-polling]")).to_have_count(0)
    expect(refund).to_contain_text("Donor called: gave twice")
    page.reload()
    card.get_by_text("Payment history (1)").click()
    expect(card.locator("[data-stat=total_paid]")).to_have_text(re.compile(r"^29,90\s?kr$"))
    total = page.locator("[data-row=total]")
    expect(total.locator("[data-stat=amount_refunded]")).to_have_text(re.compile(r"^20,00\s?kr$"))
    expect(total.locator("[data-stat=amount_charged]")).to_have_text(re.compile(r"^29,90\s?kr$"))
    assert_accessible(page)
    screenshot(page, "refund-done")

    narrow = narrow_history(new_context, page, dialogue_url, "refund-done-dark-narrow")
    narrow.locator("[data-agreement]").first.get_by_role("link", name="Refund…").click()
    expect(narrow.get_by_label(re.compile("^Amount in NOK"))).to_have_value("29,90")
    overflow = narrow.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    screenshot(narrow, "refund-confirm-dark-narrow")


def test_a_payment_not_taken_yet_is_cancelled_from_the_dialogue_page(own_partner, new_context):
    page = own_partner
    dialogue_url = an_agreement_with_its_first_payment(page)
    # Two days before the second period is due, the scheduler creates its payment (3 days
    # ahead): PENDING or DUE, not taken yet.
    today = sim_today()
    second_due = a_month_later(today)
    card = page.locator("[data-agreement]").first
    second_payment_after(page, card, days=(second_due - timedelta(days=2) - today).days)
    due = card.locator("tr[data-charge]").filter(has_text=second_due.strftime("%d.%m.%Y"))
    expect(due).to_contain_text(re.compile("PENDING|DUE"))
    expect(due.get_by_role("link", name="Refund…")).to_have_count(0)
    due.get_by_role("link", name="Cancel…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel this payment?")
    expect(page.locator("main")).to_contain_text("49,90")
    assert_accessible(page)
    screenshot(page, "cancel-confirm")
    page.get_by_role("button", name="Cancel the payment").click()

    expect(page.get_by_role("status")).to_contain_text("Cancel requested.")
    card = page.locator("[data-agreement]").first
    reload_until(page, lambda: "CANCELLED" in card.text_content(), "Vipps to cancel the payment")
    card.get_by_text("Payment history (2)").click()
    cancelled = card.locator("tr[data-charge]").filter(has_text=second_due.strftime("%d.%m.%Y"))
    expect(cancelled).to_contain_text("CANCELLED")
    expect(cancelled.get_by_role("link", name="Cancel…")).to_have_count(0)
    expect(cancelled).not_to_contain_text("FAILED")
    assert_accessible(page)
    screenshot(page, "cancel-done")

    narrow_history(new_context, page, dialogue_url, "cancel-done-dark-narrow")

"""Pause and resume in a browser: a donor's ACTIVE agreement is paused from the Dialogue page
for two periods (the card then says Paused and which dates it skips, the figures count it),
then resumed; and a donor who texts PAUSE gets the dates by SMS and the portal shows the pause.
Axe on the page; a screenshot of the paused card."""

import re
import uuid

from conftest import BASE_URL, assert_accessible, screenshot
from playwright.sync_api import expect
from test_journey import INBOUND_TOKEN, own_partner, post_json, reload_until  # noqa: F401
from test_refunds import an_agreement_with_its_first_payment


def test_the_partner_pauses_and_resumes_an_agreement(own_partner):
    page = own_partner
    dialogue_url = an_agreement_with_its_first_payment(page)
    card = page.locator("[data-agreement]").first
    expect(card.locator("[data-paused]")).to_have_count(0)
    card.get_by_label("Skip the next").select_option("2")
    card.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Paused.")
    card = page.locator("[data-agreement]").first
    expect(card.locator("[data-paused]")).to_have_text("Paused")
    expect(card.locator("[data-skips]")).to_have_text(re.compile(r"^\d\d\.\d\d\.\d{4}, \d\d\.\d\d\.\d{4} \(no payment"))
    expect(page.locator("[data-stat=paused_now]")).to_have_text("1")
    expect(card.get_by_role("button", name="Resume now")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "pause-1-paused-card")

    card.get_by_role("button", name="Resume now").click()
    expect(page.locator(".flash")).to_contain_text("Resumed.")
    card = page.locator("[data-agreement]").first
    expect(card.locator("[data-paused]")).to_have_count(0)
    expect(page.locator("[data-stat=paused_now]")).to_have_text("0")
    assert page.url.startswith(dialogue_url)


def test_a_donor_pauses_by_sms_and_the_portal_shows_it(own_partner):
    page = own_partner
    an_agreement_with_its_first_payment(page)
    card = page.locator("[data-agreement]").first
    phone = card.locator("dd").nth(1).inner_text().strip()
    post_json(
        f"{BASE_URL}/webhooks/sms/inbound",
        {"message_id": f"gw-{uuid.uuid4().hex}", "from": phone, "to": "2160", "text": "pause"},
        INBOUND_TOKEN,
    )
    reload_until(page, lambda: card.locator("[data-paused]").count() == 1, "the pause by SMS")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Messages").click()
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#message-list tbody tr")
    reload_until(page, lambda: rows.filter(has_text="satt på pause").count() == 1, "the confirmation")
    expect(rows.filter(has_text="satt på pause")).to_contain_text("Send START til 2160")

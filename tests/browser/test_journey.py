"""The seed's journey, end to end, in the browser against the real binary:

log in → create a CRM group with terms → Create Dialogue (Add Vipps link) → the keyword arrives
(posted to the gateway webhook, as the SMS gateway does) → the message is in Messages and
Details shows its Status and Date → open the Vipps link from the reply, Open, Confirm and pay,
PIN → the agreement is ACTIVE in the portal with its first payment → a month passes in the
simulator → the scheduler (no manual sweep) creates the next payment, listed in the portal and
in the simulated app's Payments → Recurring payments.

Plus a keyboard-only pass through the Create Dialogue form. Screenshots of every step."""

import json
import os
import random
import re
import string
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import subprocess

import pytest
from conftest import (
    BASE_URL,
    DIALOGPAY_BIN,
    assert_accessible,
    create_user,
    log_in,
    screenshot,
    set_password,
)
from playwright.sync_api import Page, expect
from test_crm import create_group_with_terms

INBOUND_TOKEN = os.environ["BROWSER_INBOUND_TOKEN"]
SIM = f"{BASE_URL}/vipps-sim"


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def sim_today() -> date:
    """Today in Oslo on the simulator's clock: the service's billing calendar (periods are
    anchored on the Oslo date; the UTC date is a day behind from 23:00 or 22:00 UTC)."""
    with urllib.request.urlopen(f"{SIM}/_sim/clock", timeout=10) as response:
        now = json.loads(response.read())["now"]  # RFC 3339 in UTC: 2027-01-06T23:03:12.5Z
    utc = datetime.fromisoformat(now[:19] + "+00:00")
    return utc.astimezone(ZoneInfo("Europe/Oslo")).date()


def reload_until(page: Page, check, what: str, within: float = 30.0) -> None:
    """Reloads `page` until `check()` is true: the server works in the background."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
        page.reload()


@pytest.fixture
def own_partner(new_context) -> Page:
    """A page logged in as a user of a partner of its own (created through the CLI), so that
    the messages and agreements of the journey are not other tests' business."""
    out = subprocess.run(
        [DIALOGPAY_BIN, "partner", "create", "--name", "Journey charity", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    page = new_context().new_page()
    page.user = create_user(json.loads(out)["id"])
    set_password(page, page.user)
    return page


def tour(new_context, user, dialogue_url: str, scheme: str, width: int) -> None:
    """Every screen of the portal with the journey's data, as screenshots NAME-SCHEME-WIDTH."""
    page = new_context(color_scheme=scheme, width=width).new_page()
    log_in(page, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dialogues")
    dialogue_id = dialogue_url.rstrip("/").rsplit("/", 1)[1]
    today = sim_today()
    since = (today - timedelta(days=45)).isoformat()
    screens = [
        ("dialogue-list", f"/portal/?period=custom&from={since}&to={today.isoformat()}"),
        ("dialogue-page", f"/portal/dialogues/{dialogue_id}"),
        ("dialogue-edit", f"/portal/dialogues/{dialogue_id}/edit"),
        ("dialogue-new", "/portal/dialogues/new"),
        ("messages", "/portal/messages"),
        ("crm-groups", "/portal/crm-groups"),
    ]
    for name, path in screens:
        page.goto(f"{BASE_URL}{path}")
        if name == "dialogue-page":
            for summary in page.locator("details summary").all():
                summary.click()
        if name == "messages":
            page.locator("#message-list tbody tr").first.get_by_role("radio").check()
            page.get_by_role("button", name="Details").click()
            expect(page.locator("#detail-status")).to_be_visible()
        screenshot(page, f"tour-{name}-{scheme}-{width}")
    page.locator("#group-table tbody tr a").first.click()
    screenshot(page, f"tour-crm-group-{scheme}-{width}")
    page.context.close()


def unique_keyword() -> str:
    return "J" + "".join(random.choices(string.ascii_uppercase, k=7))


def second_payment_after(page: Page, card, days: int) -> None:
    """Moves the simulator's clock `days` on and reloads until the scheduler alone has created
    the agreement's (`card`'s) second payment; opens its payment history."""
    post_json(f"{SIM}/_sim/clock", {"advance_days": days})
    reload_until(
        page,
        lambda: "Payment history (2)" in card.text_content(),
        "the second payment, created by the scheduler",
        within=60.0,
    )
    card.get_by_text("Payment history (2)").click()


def fill_dialogue_form(page: Page, keyword: str, today: date) -> None:
    page.get_by_label("Name", exact=True).fill("Monthly giver")
    page.get_by_label("Start Date", exact=True).fill(today.isoformat())
    page.get_by_label("End Date", exact=True).fill((today + timedelta(days=365)).isoformat())
    expect(page.get_by_label("Recurring payments", exact=True)).to_be_checked()
    page.get_by_label("Recurring period", exact=True).select_option("month")
    page.get_by_label("Product name", exact=True).fill("Monthly gift")
    page.get_by_label("Product description", exact=True).fill("Your monthly gift to the children")
    page.get_by_label("Amount in NOK", exact=True).fill("49,90")
    page.get_by_label("Sender", exact=True).fill("2160")
    reply = page.get_by_label("Reply message for incoming keyword", exact=True)
    reply.fill("Takk! Bli fast giver her: ")
    reply.press("End")
    page.get_by_role("button", name="Add Vipps link").click()
    expect(reply).to_have_value(re.compile(r"^Takk! Bli fast giver her: \{vipps_link\}"))
    page.get_by_label("Keyword", exact=True).fill(keyword)


def test_the_seed_journey_from_login_to_the_second_payment(own_partner, new_context):
    page = own_partner
    today = sim_today()
    # 1. A CRM group with Terms and Conditions.
    create_group_with_terms(page, f"Donors {uuid.uuid4().hex[:6]}")
    # 2. Create Dialogue, with Add Vipps link.
    page.get_by_role("link", name="Create Dialogue with this group").click()
    keyword = unique_keyword()
    fill_dialogue_form(page, keyword, today)
    screenshot(page, "journey-1-create-dialogue")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monthly giver")
    dialogue_url = page.url
    expect(page.get_by_text("No agreements yet.")).to_be_visible()

    # 3. The keyword arrives at the gateway webhook.
    phone = "+4741" + "".join(random.choices(string.digits, k=6))
    post_json(
        f"{BASE_URL}/webhooks/sms/inbound",
        {"message_id": f"gw-{uuid.uuid4().hex}", "from": phone, "to": "2160", "text": keyword.lower()},
        INBOUND_TOKEN,
    )

    # 4. Messages: the keyword and the reply; Details shows Status and Date.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Messages").click()
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#message-list tbody tr")
    reload_until(page, lambda: rows.count() == 2, "the keyword and its reply")
    inbound = rows.filter(has_text=keyword.lower())
    inbound.get_by_role("radio").check()
    page.get_by_role("button", name="Details").click()
    expect(page.locator("#detail-status")).to_have_text("processed")
    expect(page.locator("#detail-date")).not_to_be_empty()
    screenshot(page, "journey-2-messages-details")
    reply_text = rows.filter(has_text="Takk!").locator(".text-cell").inner_text()
    link = re.search(r"https?://\S+", reply_text).group(0)

    # 5. The Vipps side, as the seed shows it in the app.
    vipps = new_context(width=390, height=844).new_page()
    vipps.goto(link)
    screenshot(vipps, "journey-3-vipps-open")
    vipps.locator("#open").click()
    expect(vipps.locator("#confirm")).to_be_visible()
    screenshot(vipps, "journey-4-vipps-confirm")
    vipps.locator("#confirm").click()
    vipps.get_by_label("PIN", exact=True).fill("1234")
    screenshot(vipps, "journey-5-vipps-pin")
    vipps.get_by_role("button", name="Confirm and pay").click()
    expect(vipps.get_by_role("heading", level=1)).to_have_text("Paid")
    expect(vipps.locator("#paid")).to_contain_text("49")
    screenshot(vipps, "journey-6-vipps-paid")
    payments = vipps.locator("#payments").get_attribute("href")

    # 6. ACTIVE in the portal, with its first payment charged.
    page.goto(dialogue_url)
    card = page.locator("[data-agreement]").first
    reload_until(
        page,
        lambda: card.count() == 1 and "ACTIVE" in card.text_content() and "CHARGED" in card.text_content(),
        "the agreement ACTIVE with its first payment",
    )
    expect(card.locator("[data-stat=total_paid]")).to_have_text(re.compile(r"^49,90\s?kr$"))
    expect(card.get_by_text("Payment history (1)")).to_be_visible()
    screenshot(page, "journey-7-agreement-active")

    # 7. A month passes in the simulator; the scheduler alone creates the next payment.
    second_payment_after(page, card, days=31)
    expect(card.locator("tbody tr")).to_have_count(2)
    screenshot(page, "journey-8-second-payment")
    vipps.goto(payments)
    vipps.locator("li a").first.click()
    expect(vipps.locator("body")).to_contain_text("49")

    # 8. Every screen with this data, light and dark, wide and 360 px, for review.
    for scheme, width in (("light", 1280), ("dark", 1280), ("dark", 360)):
        tour(new_context, page.user, dialogue_url, scheme, width)
    screenshot(vipps, "journey-9-vipps-recurring-payments")


def test_the_create_dialogue_form_by_keyboard_alone(own_partner):
    """Tab through the form in order, type every field, press Add Vipps link with the keyboard,
    and save with Enter: the seed's twelve fields are reachable and usable without a mouse."""
    page = own_partner
    create_group_with_terms(page, f"Keyboard {uuid.uuid4().hex[:6]}")
    page.get_by_role("link", name="Create Dialogue with this group").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create Dialogue")
    today = sim_today()
    page.get_by_label("Name", exact=True).focus()

    def tab_to(label: str) -> None:
        target = page.get_by_label(label, exact=True)
        for _ in range(8):
            page.keyboard.press("Tab")
            if target.evaluate("el => el === document.activeElement"):
                return
        raise AssertionError(f"Tab never reached {label}")

    def type_date(label: str, day: date) -> None:
        """Types the date's digits in the order the field shows them (Chromium's date field
        follows its own UI language, not the page's): month first, else day first."""
        field = page.get_by_label(label, exact=True)
        for pattern in ("%m%d%Y", "%d%m%Y"):
            page.keyboard.type(day.strftime(pattern))
            if field.input_value() == day.isoformat():
                return
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")
        raise AssertionError(f"{label}: typed {day}, the field holds {field.input_value()!r}")

    page.keyboard.type("Keyboard giver")
    tab_to("CRM Group")  # preselected through the link
    tab_to("Start Date")
    type_date("Start Date", today)
    tab_to("End Date")
    type_date("End Date", today + timedelta(days=200))
    tab_to("Module type")
    tab_to("Recurring payments")
    tab_to("Recurring period")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    tab_to("Product name")
    page.keyboard.type("Gift")
    tab_to("Product description")
    page.keyboard.type("A monthly gift")
    tab_to("Amount in NOK")
    page.keyboard.type("100")
    tab_to("Sender")
    page.keyboard.type("2160")
    tab_to("Reply message for incoming keyword")
    page.keyboard.type("Thanks! ")
    page.keyboard.press("Tab")
    add = page.get_by_role("button", name="Add Vipps link")
    assert add.evaluate("el => el === document.activeElement"), "Add Vipps link follows the reply"
    page.keyboard.press("Enter")
    expect(page.get_by_label("Reply message for incoming keyword", exact=True)).to_have_value(
        re.compile(r"Thanks! \{vipps_link\}")
    )
    tab_to("Keyword")
    page.keyboard.type(unique_keyword())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Keyboard giver")
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    assert_accessible(page)

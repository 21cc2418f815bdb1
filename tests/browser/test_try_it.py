"""Try it in a browser: from the dialogue page, text the keyword from a test phone, see the
reply arrive, follow the Vipps link through the simulator (Open, Confirm and pay, the PIN,
Paid) in the same tab, follow its Back link and see the agreement ACTIVE with its first payment;
screenshots light and wide, dark and 360 px, and an axe scan."""

import re

from conftest import BASE_URL, assert_accessible, screenshot, set_password
from playwright.sync_api import expect


def test_try_it_walks_the_whole_journey_in_the_browser(logged_in, live_dialogue):
    page = logged_in
    page.goto(f"{BASE_URL}/portal/dialogues/{live_dialogue.id}")
    page.get_by_role("link", name="Try it").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Try it")
    expect(page.get_by_label("Text")).to_have_value(live_dialogue.keyword)
    phone = page.get_by_label("Test phone number").input_value()
    assert re.fullmatch(r"\+47 4\d\d \d\d \d\d\d", phone), phone
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/try\?phone=%2B474\d{7}$"))
    try_url = page.url

    # The reply arrives through htmx's polling, with the simulator's link in it.
    link = page.locator(".bubble-theirs a.vipps-link")
    expect(link).to_be_visible()
    expect(page.locator("[data-stat=agreement_status]")).to_have_text("PENDING")
    assert_accessible(page)
    screenshot(page, "try-it")

    # The button is the SMS's link with the way back to this page.
    opener = page.get_by_role("link", name="Open the Vipps link")
    assert opener.get_attribute("href").startswith(link.get_attribute("href") + "?back=")
    opener.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open in the Vipps app?")
    page.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm agreement")
    page.get_by_role("link", name="Confirm and pay").click()
    page.get_by_label("PIN").fill("1234")
    page.get_by_role("button", name="Confirm and pay").click()
    expect(page.locator("#paid")).to_contain_text("Paid 49,90 kr")

    page.get_by_role("link", name="Back to where you came from").click()
    expect(page).to_have_url(try_url)
    expect(page.locator("[data-stat=agreement_status]")).to_have_text("ACTIVE", timeout=15_000)
    expect(page.locator("[data-payment=CHARGED]")).to_be_visible(timeout=15_000)
    expect(page.locator("#try-screen[data-polling]")).to_have_count(0)
    screenshot(page, "try-it-active")

    with page.expect_popup() as opened:
        page.get_by_role("link", name=re.compile("Recurring payments")).click()
    popup = opened.value
    expect(popup.locator("#agreements")).to_contain_text("ACTIVE")


def test_try_it_in_the_dark_at_360_px(new_context, new_user, live_dialogue):
    page = new_context(color_scheme="dark", width=360, height=740).new_page()
    set_password(page, new_user)
    page.goto(f"{BASE_URL}/portal/dialogues/{live_dialogue.id}/try")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".bubble-theirs a.vipps-link")).to_be_visible()
    assert_accessible(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"scrolls sideways: {width}px"
    screenshot(page, "try-it-dark-narrow")

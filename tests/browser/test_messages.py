"""The Messages tab in a browser: reached from the navigation with the keyboard alone, the
filters kept in the URL, the empty state, the CSV export link; screenshots and an axe scan."""

import re

from conftest import BASE_URL, assert_accessible, screenshot
from playwright.sync_api import expect


def test_messages_tab_by_keyboard_with_filters_in_the_url(logged_in):
    page = logged_in
    nav = page.get_by_role("navigation", name="Portal").get_by_role("link", name="Messages")
    nav.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/portal/messages$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    expect(page.locator("#no-messages")).to_have_text("No messages match.")

    page.get_by_label("Direction").select_option("in")
    page.get_by_label("Phone").fill("+4791234567")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"direction=in"))
    expect(page).to_have_url(re.compile(r"phone=%2B4791234567"))
    expect(page.get_by_label("Phone")).to_have_value("+4791234567")
    href = page.get_by_role("link", name="Export CSV").get_attribute("href")
    assert href.startswith("/portal/messages.csv?") and "direction=in" in href, href
    assert_accessible(page)
    screenshot(page, "messages")


def test_messages_page_in_the_dark_theme(new_context, new_user):
    from conftest import set_password

    page = new_context(color_scheme="dark", width=360, height=740).new_page()
    set_password(page, new_user)
    page.goto(f"{BASE_URL}/portal/messages")
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    screenshot(page, "messages-dark-narrow")

"""CRM groups in a browser: a group created and its Terms and Conditions added through the
forms, then offered (and chosen) in the Create Dialogue form's CRM Group drop-down; both pages
scanned with axe; screenshots light and dark at 360 px."""

import re
import uuid

from conftest import BASE_URL, assert_accessible, create_user, screenshot, set_password
from playwright.sync_api import Page, expect

TERMS = "You agree to be charged every month until you stop.\nText STOPP to 2160 to stop."


def create_group_with_terms(page: Page, name: str) -> None:
    """From the navigation: creates the group `name`, adds its terms; ends on its page."""
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="CRM groups").click()
    expect(page).to_have_url(re.compile(r"/portal/crm-groups$"))
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("#no-terms")).to_be_visible()
    page.get_by_role("textbox", name="Terms and Conditions").fill(TERMS)
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#current-version")).to_contain_text("Version 1 of")
    expect(page.locator("#current-terms")).to_have_text(TERMS)


def test_a_group_with_terms_is_offered_in_the_create_dialogue_form(logged_in):
    page = logged_in
    name = f"Donors {uuid.uuid4().hex[:6]}"
    create_group_with_terms(page, name)
    expect(page.get_by_role("status")).to_contain_text("The new terms version is saved.")
    page.locator("#versions summary").first.click()
    assert_accessible(page)
    screenshot(page, "crm-group")

    page.get_by_role("link", name="Create Dialogue with this group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create Dialogue")
    group = page.get_by_label("CRM Group")
    expect(group.locator("option:checked")).to_have_text(name)

    page.goto(f"{BASE_URL}/portal/crm-groups")
    bare = f"No terms {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(bare)
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(bare)
    page.get_by_role("link", name="← CRM groups").click()
    row = page.locator("#group-table tbody tr", has_text=name)
    expect(row).to_contain_text("Version 1 of")
    without = page.locator("#group-table tbody tr", has_text=bare)
    expect(without).to_contain_text("No terms yet")
    without.get_by_role("link", name=f"Add terms to {bare}").click()
    expect(page).to_have_url(re.compile(r"/portal/crm-groups/[^/]+#new-terms$"))
    expect(page.get_by_role("textbox", name="Terms and Conditions")).to_be_empty()
    page.go_back()
    assert_accessible(page)
    screenshot(page, "crm-groups")


def test_a_group_page_in_the_dark_theme_at_360_px(new_context):
    page = new_context(color_scheme="dark", width=360, height=740).new_page()
    set_password(page, create_user())
    create_group_with_terms(page, f"Members {uuid.uuid4().hex[:6]}")
    # Nothing wider than the screen but the tables, which scroll in their own box.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    nav = page.evaluate(
        "(() => { const ul = document.querySelector('.mainnav ul'); return ul.scrollWidth - ul.clientWidth; })()"
    )
    assert nav <= 0, f"the navigation scrolls by {nav} px"
    screenshot(page, "crm-group-dark-narrow")

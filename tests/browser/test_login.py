"""The portal's front door: set the password through the one-time link, log in, see the home
page with the partner's name, log out; with screenshots in both themes and an axe scan."""

import re

from conftest import (
    BASE_URL,
    PARTNER_NAME,
    assert_accessible,
    create_user,
    log_in,
    screenshot,
    set_password,
)
from playwright.sync_api import expect


def test_set_password_log_in_see_home_and_log_out(page, new_user):
    set_password(page, new_user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dialogues")
    expect(page.locator(".partner-name")).to_have_text(PARTNER_NAME)
    expect(page.get_by_role("status")).to_contain_text("Your password is set")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/portal/login$"))
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    page.goto(f"{BASE_URL}/portal/")
    expect(page).to_have_url(re.compile(r"/portal/login\?next="))

    # The link was used up; the password works.
    page.goto(new_user.set_password_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
    log_in(page, new_user)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dialogues")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/portal/login$"))


def test_wrong_password_and_short_password_are_explained(page, new_user):
    page.goto(new_user.set_password_url)
    page.get_by_label("New password").fill("short")
    page.get_by_label("Repeat the password").fill("other")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#password-error")).to_contain_text("at least 12 characters")
    expect(page.locator("#password_confirm-error")).to_contain_text("does not match")
    set_password(page, new_user)
    page.get_by_role("button", name="Log out").click()

    new_user.password = "not the password at all"
    log_in(page, new_user)
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(new_user.email)


def test_screens_in_both_themes_and_narrow(new_context):
    for scheme in ("light", "dark"):
        user = create_user()
        for width, suffix in ((1280, ""), (360, "-narrow")):
            page = new_context(color_scheme=scheme, width=width, height=740).new_page()
            page.goto(f"{BASE_URL}/portal/login")
            expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
            screenshot(page, f"login{suffix}-{scheme}")
            if not suffix:
                page.goto(user.set_password_url)
                page.get_by_label("New password").fill("too short")
                page.get_by_role("button", name="Set password").click()
                expect(page.locator("#password-error")).to_be_visible()
                screenshot(page, f"set-password-errors-{scheme}")
                set_password(page, user)
            else:
                log_in(page, user)
            expect(page.get_by_role("heading", level=1)).to_have_text("Dialogues")
            screenshot(page, f"home{suffix}-{scheme}")


def test_login_and_home_have_no_serious_accessibility_violations(page, new_user):
    page.goto(f"{BASE_URL}/portal/login")
    assert_accessible(page)
    set_password(page, new_user)
    assert_accessible(page)

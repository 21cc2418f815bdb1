"""Receipts and failed-payment notices on the dialogue form: "Insert suggested text" fills a
text and its counter, a wrong placeholder is refused next to its field with everything typed
kept, and the saved texts are on the edit form again; axe on the form; a screenshot."""

import re

from conftest import BASE_URL, assert_accessible, screenshot
from playwright.sync_api import expect


def test_notice_texts_on_the_dialogue_form(logged_in, live_dialogue):
    page = logged_in
    edit = f"{BASE_URL}/portal/dialogues/{live_dialogue.id}/edit"
    page.goto(edit)
    receipt = page.get_by_label("Receipt by SMS", exact=True)
    failure = page.get_by_label("Failed-payment notice by SMS", exact=True)
    expect(receipt).to_have_value("")
    page.locator("#receipt_message-suggest").click()
    expect(receipt).to_have_value(re.compile(r"^Takk! Vi har trukket \{amount\} for \{product\}"))
    expect(page.locator("#receipt_message-info .reply-segments")).to_have_text(re.compile(r"^[12] SMS parts?$"))
    expect(page.locator("#receipt_message-info .reply-length")).to_contain_text("at its longest")

    failure.fill("Betalingen feilet: {grunn} {manage_link}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#failure_message-error")).to_contain_text("{grunn} is not a placeholder here")
    expect(failure).to_have_attribute("aria-invalid", "true")
    expect(receipt).to_have_value(re.compile(r"^Takk! Vi har trukket"))

    failure.fill("")
    page.locator("#failure_message-suggest").click()
    expect(failure).to_have_value(re.compile(r"\{reason\}.*\{manage_link\}$"))
    assert_accessible(page)
    screenshot(page, "dialogue-form-notices")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Monthly giver"))

    page.goto(edit)
    expect(receipt).to_have_value(re.compile(r"^Takk! Vi har trukket"))
    expect(failure).to_have_value(re.compile(r"\{reason\}.*\{manage_link\}$"))

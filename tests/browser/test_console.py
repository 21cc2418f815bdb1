"""The operator console in a real browser: an operator made by `dialogpay operator create`
sets the password through the link, lands on the Overview (queues, workers, scheduler; the
refresh menu kept in the URL), finds a job through the Jobs filters and opens it; a read-only
operator sees the controls disabled with the reason. axe on every page; screenshots light and
dark at 360 px."""

import re

from playwright.sync_api import Page, expect

from conftest import assert_accessible, create_operator, screenshot


def operator_page(page: Page, read_only: bool = False) -> Page:
    operator = create_operator(read_only)
    assert "/console/set-password/" in operator.set_password_url
    page.goto(operator.set_password_url)
    page.get_by_label("New password").fill(operator.password)
    page.get_by_label("Repeat the password").fill(operator.password)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(re.compile(r"/console/$"))
    return page


def test_an_operator_watches_the_queues_and_finds_a_job(page):
    operator_page(page)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#overview")).to_be_visible()
    expect(page.get_by_role("heading", name="Scheduler")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-overview")
    # The refresh menu is kept in the URL.
    page.get_by_label("Refresh").select_option("30")
    expect(page).to_have_url(re.compile(r"refresh=30"))
    expect(page.locator("[data-refresh-seconds='30']")).to_have_count(1)

    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_label("State")).to_have_value("failed")
    assert_accessible(page)
    page.get_by_label("State").select_option("any")
    page.get_by_label("Created").select_option("all")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"state=any"))
    first = page.locator("tr[data-job] a").first
    expect(first).to_be_visible()
    job_id = first.inner_text()
    screenshot(page, "console-jobs")
    first.click()
    expect(page.get_by_role("heading", name=f"Job {job_id}")).to_be_visible()
    expect(page.locator("#job-payload")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "console-job")


def test_a_read_only_operator_sees_disabled_controls_dark_and_narrow(new_context):
    page = new_context(color_scheme="dark", width=360, height=800).new_page()
    operator_page(page, read_only=True)
    expect(page.get_by_text("Operator (read-only)")).to_be_visible()
    page.goto("/console/jobs?state=any&window=all")
    reason = page.locator("#read-only-reason")
    expect(reason).to_contain_text("read-only operator")
    for name in ["Retry selected", "Cancel selected"]:
        expect(page.get_by_role("button", name=name)).to_be_disabled()
    screenshot(page, "console-jobs-read-only-dark-narrow")
    page.locator("tr[data-job] a").first.click()
    expect(page.get_by_role("button", name="Retry")).to_be_disabled()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()
    assert_accessible(page)
    screenshot(page, "console-job-read-only-dark-narrow")
    page.goto("/console/")
    assert_accessible(page)
    screenshot(page, "console-overview-dark-narrow")

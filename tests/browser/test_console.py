"""The operator console in a real browser: an operator made by `dialogpay operator create`
sets the password through the link, lands on the Overview (queues, workers, scheduler; the
refresh menu kept in the URL), finds a job through the Jobs filters and opens it; finds a
failing test job by its queue and name, reads its attempts, retries it and sees it done;
cancels all jobs matching a filter in one confirmed step; a read-only operator sees the
controls disabled with the reason. axe on every page; screenshots light and dark at 360 px."""

import re
import time
import uuid

from playwright.sync_api import Page, expect

from conftest import assert_accessible, create_operator, enqueue_test_job, screenshot


def operator_page(page: Page, read_only: bool = False) -> Page:
    operator = create_operator(read_only)
    assert "/console/set-password/" in operator.set_password_url
    page.goto(operator.set_password_url)
    page.get_by_label("New password").fill(operator.password)
    page.get_by_label("Repeat the password").fill(operator.password)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(re.compile(r"/console/$"))
    return page


def reload_until(page: Page, selector: str, seconds: float = 30) -> None:
    """Reloads until `selector` is on the page (the worker runs the job meanwhile)."""
    deadline = time.monotonic() + seconds
    while page.locator(selector).count() == 0:
        assert time.monotonic() < deadline, f"{selector} not on {page.url} after {seconds} s"
        time.sleep(0.5)
        page.reload()


def filter_jobs(page: Page, state: str, queue: str, q: str) -> None:
    page.get_by_label("State").select_option(state)
    page.get_by_label("Queue").fill(queue)
    page.get_by_label("Created").select_option("24h")
    page.get_by_label("Id").fill(q)
    page.get_by_role("button", name="Filter").click()


def test_an_operator_finds_a_failed_job_reads_its_attempts_and_retries_it(page):
    name = f"retry-{uuid.uuid4().hex[:8]}"
    job_id = enqueue_test_job(name, fail_times=1, permanent=True)
    operator_page(page)
    page.get_by_role("link", name="Jobs").click()
    filter_jobs(page, "failed", "test.flaky", name)
    expect(page).to_have_url(re.compile(rf"q={name}"))
    reload_until(page, f"tr[data-job='{job_id}']")
    expect(page.locator("#matching")).to_have_text("1 job matches.")
    page.get_by_role("link", name=job_id).click()
    expect(page.get_by_role("heading", name=f"Job {job_id}")).to_be_visible()
    expect(page.locator("#job-state")).to_have_text("failed")
    first = page.locator("tr[data-attempt='1']")
    expect(first.locator("[data-status]")).to_have_text("permanent")
    expect(first).to_contain_text(f"flaky job {name} failing on attempt 1")
    assert_accessible(page)
    screenshot(page, "console-job-failed")

    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#notice")).to_contain_text("The job is retried")
    reload_until(page, "#job-state:text-is('done')")
    expect(page.locator("tr[data-attempt='2'] [data-status]")).to_have_text("done")
    expect(page.get_by_role("button", name="Retry")).to_be_disabled()
    screenshot(page, "console-job-retried")


def test_an_operator_cancels_all_jobs_matching_a_filter_in_one_confirmed_step(page):
    batch = f"bulk-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        # Fails more often than it may retry: failed for good after its attempts.
        enqueue_test_job(f"{batch}-{i}", fail_times=9, permanent=True)
    operator_page(page)
    page.goto("/console/jobs")
    filter_jobs(page, "failed", "test.flaky", batch)
    reload_until(page, "#matching:text-is('3 jobs match.')")
    page.get_by_role("button", name="Cancel all 3 matching…").click()
    expect(page.get_by_role("heading", name="Cancel 3 jobs?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Cancel 3 jobs").click()
    expect(page.locator("#notice")).to_contain_text("3 jobs cancelled.")
    expect(page.locator("#matching")).to_have_text("0 jobs match.")
    filter_jobs(page, "killed", "test.flaky", batch)
    expect(page.locator("tr[data-job]")).to_have_count(3)
    expect(page.locator("tr[data-job] [data-status]").first).to_have_text("killed")
    screenshot(page, "console-jobs-cancelled")


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

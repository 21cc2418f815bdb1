"""Fixtures for the browser suite (run it with tests/browser/run.sh, which starts the server).

- `browser`: Debian's Chromium, headless, one per run (Playwright's launch() gives it a fresh
  temporary user data dir).
- `context` / `page`: a fresh browser profile per test (cookies, storage), light theme,
  1280x800. `new_context(color_scheme=..., width=...)` makes more (dark theme, 360 px wide).
- `new_user`: a portal user of the run's partner, created through the CLI as an operator would:
  its email and one-time set-password link.
- `logged_in`: a page logged in as a new user (password set through the link), on /portal/.
- `create_operator(read_only)`: an operator of the console through `dialogpay operator create`.
- `enqueue_test_job(name, fail_times, permanent)`: a `test.flaky` job through `dialogpay
  test-job` (the server runs with DIALOGPAY_TEST_JOBS=1), for the console to find failing.
- `live_dialogue`: a CRM group with terms and a live monthly dialogue with a keyword of its
  own on 2160, made through the JSON API with the partner's key: its id and keyword.
- `screenshot(page, name)`: writes target/browser-screenshots/NAME.png (full page).
- `assert_accessible(page)`: axe-core finds no serious or critical violation.
"""

import datetime
import json
import os
import urllib.request
import re
import subprocess
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect, sync_playwright

BASE_URL = os.environ["BROWSER_BASE_URL"]
PARTNER_ID = os.environ["BROWSER_PARTNER_ID"]
PARTNER_NAME = os.environ["BROWSER_PARTNER_NAME"]
PARTNER_KEY = os.environ["BROWSER_PARTNER_KEY"]
DIALOGPAY_BIN = os.environ["BROWSER_DIALOGPAY_BIN"]
CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.environ["BROWSER_SCREENSHOTS"]
PASSWORD = "correct horse battery staple"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class User:
    email: str
    set_password_url: str
    password: str = PASSWORD


def create_user(partner_id: str = PARTNER_ID) -> User:
    """A portal user through `dialogpay user create` (the server's environment is inherited)."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.org"
    out = subprocess.run(
        [DIALOGPAY_BIN, "user", "create", "--partner", partner_id, "--email", email, "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    created = json.loads(out)
    return User(email=created["email"], set_password_url=created["set_password_url"])


def enqueue_test_job(name: str, fail_times: int = 1, permanent: bool = True) -> str:
    """A `test.flaky` job through `dialogpay test-job` (it fails `fail_times` times, then
    succeeds); its id."""
    args = [DIALOGPAY_BIN, "test-job", "--name", name, "--fail-times", str(fail_times)]
    if permanent:
        args.append("--permanent")
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def create_operator(read_only: bool = False) -> User:
    """An operator of the console through `dialogpay operator create`."""
    email = f"operator-{uuid.uuid4().hex[:12]}@example.org"
    args = [DIALOGPAY_BIN, "operator", "create", "--email", email, "--json"]
    if read_only:
        args.append("--read-only")
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    created = json.loads(out)
    return User(email=created["email"], set_password_url=created["set_password_url"])


def set_password(page: Page, user: User) -> None:
    """Follows the one-time link and sets the password; ends logged in on /portal/."""
    page.goto(user.set_password_url)
    page.get_by_label("New password").fill(user.password)
    page.get_by_label("Repeat the password").fill(user.password)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))


def log_in(page: Page, user: User) -> None:
    page.goto(f"{BASE_URL}/portal/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()


def api(method: str, path: str, body: dict) -> dict:
    """The partner's JSON API: the answer's body (an HTTP error fails the test)."""
    req = urllib.request.Request(
        f"{BASE_URL}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {PARTNER_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


@dataclass
class Dialogue:
    id: str
    keyword: str


def create_live_dialogue() -> Dialogue:
    """A group with terms and a dialogue live from today for a year, on 2160."""
    suffix = uuid.uuid4().hex[:8].upper()
    group = api("POST", "/api/v1/crm-groups", {"name": f"Donors {suffix}"})
    api("PUT", f"/api/v1/crm-groups/{group['id']}/terms", {"text": "Charged monthly until you stop."})
    today = datetime.date.today()
    keyword = f"TRY{suffix}"
    dialogue = api(
        "POST",
        "/api/v1/dialogues",
        {
            "name": f"Monthly giver {suffix}", "crm_group_id": group["id"],
            "start_date": today.isoformat(), "end_date": (today + datetime.timedelta(days=365)).isoformat(),
            "module_type": "vipps_payments", "recurring": True, "period": "month",
            "product_name": "Fast giver", "product_description": "Monthly support",
            "amount": "49.90", "sender": "2160", "keyword": keyword,
            "reply_message": "Takk! Bli fast giver: {vipps_link} Send STOPP til 2160 for å avslutte.",
        },
    )
    return Dialogue(id=dialogue["id"], keyword=keyword)


@pytest.fixture
def live_dialogue() -> Dialogue:
    return create_live_dialogue()


@pytest.fixture(scope="session")
def playwright_instance():
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser):
    """Makes fresh profiles: new_context(color_scheme="dark", width=360)."""
    made = []

    def make(color_scheme: str = "light", width: int = 1280, height: int = 800):
        context = browser.new_context(
            base_url=BASE_URL,
            color_scheme=color_scheme,
            viewport={"width": width, "height": height},
            locale="nb-NO",
            timezone_id="Europe/Oslo",
        )
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context) -> Page:
    return context.new_page()


@pytest.fixture
def new_user() -> User:
    return create_user()


@pytest.fixture
def logged_in(page, new_user) -> Page:
    set_password(page, new_user)
    return page


def screenshot(page: Page, name: str) -> str:
    path = os.path.join(SCREENSHOTS, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path


def assert_accessible(page: Page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert not serious, json.dumps(
        [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]} for v in serious],
        indent=2,
    )

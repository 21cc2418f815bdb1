"""Webhooks in a browser: an endpoint added through the form (its secret shown once), a keyword
texted to one of the partner's dialogues arrives at a real receiver signed as the Standard
Webhooks specification says, the delivery log shows it delivered, and "Send again" posts it
once more with the same webhook-id; axe on the pages; a screenshot of the delivery log."""

import base64
import hashlib
import hmac
import json
import random
import string
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

from conftest import BASE_URL, assert_accessible, screenshot
from playwright.sync_api import expect
from test_journey import INBOUND_TOKEN, post_json, reload_until


class Receiver:
    """A partner's system: records each POST (headers, raw body) and answers 200."""

    def __init__(self):
        self.got: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def from_phone(self, phone: str) -> list[tuple[dict, bytes]]:
        return [(h, b) for h, b in self.got if json.loads(b)["data"].get("phone") == phone]

    def wait_for(self, phone: str, n: int) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + 30
        while len(self.from_phone(phone)) < n:
            assert time.monotonic() < deadline, f"{n} requests for {phone} never arrived"
            time.sleep(0.2)
        return self.from_phone(phone)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The recipe README gives partners."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, s.removeprefix("v1,"))
        for s in headers["webhook-signature"].split()
    )


def test_an_endpoint_receives_a_signed_event_and_a_delivery_is_sent_again(logged_in, live_dialogue):
    page = logged_in
    receiver = Receiver()
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    assert_accessible(page)
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("message.received").check()
    page.get_by_label("Description").fill(f"CRM {uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Endpoint added")
    secret = page.locator("#secret").text_content().strip()
    assert secret.startswith("whsec_"), secret
    page.get_by_role("link", name="To the endpoint and its delivery log").click()
    expect(page.locator("#no-deliveries")).to_be_visible()

    phone = "+4741" + "".join(random.choices(string.digits, k=6))
    post_json(
        f"{BASE_URL}/webhooks/sms/inbound",
        {"message_id": f"gw-{uuid.uuid4().hex}", "from": phone, "to": "2160", "text": live_dialogue.keyword},
        INBOUND_TOKEN,
    )
    [(headers, body)] = receiver.wait_for(phone, 1)
    assert verify(secret, headers, body), headers
    event = json.loads(body)
    assert event["type"] == "message.received"
    assert event["data"]["keyword"] == live_dialogue.keyword

    row = page.locator(f'#delivery-table tr[data-event="{headers["webhook-id"]}"]')
    reload_until(page, lambda: row.count() == 1 and "Delivered" in row.text_content(), "the delivery logged")
    expect(row).to_contain_text("HTTP 200")
    assert_accessible(page)
    screenshot(page, "webhook-endpoint")

    row.get_by_role("link").click()
    expect(page.locator("#webhook-id")).to_have_text(headers["webhook-id"])
    expect(page.locator("#body")).to_contain_text(live_dialogue.keyword)
    assert_accessible(page)
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("Sent again")
    again = receiver.wait_for(phone, 2)
    assert again[1][0]["webhook-id"] == headers["webhook-id"]
    assert again[1][1] == body
    assert verify(secret, again[1][0], again[1][1])

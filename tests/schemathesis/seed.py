"""Seeds a running dialogpay with real objects and writes a schemathesis config that feeds
their ids to path and query parameters (half of the draws; the other half stay random).

Usage: seed.py BASE_URL PARTNER_KEY OPERATOR_KEY INBOUND_TOKEN CONFIG_OUT

Standard library only: it runs with whichever python runs schemathesis.
"""

import datetime
import json
import sys
import time
import urllib.error
import urllib.request


def call(base, method, path, key, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def expect(status, body, want, what):
    if status != want:
        sys.exit(f"seeding failed: {what} answered {status}, expected {want}: {body}")
    return body


def main():
    base, partner_key, operator_key, inbound_token, config_out = sys.argv[1:6]

    group = expect(
        *call(base, "POST", "/api/v1/crm-groups", partner_key, {"name": "Donors"}),
        201,
        "POST /api/v1/crm-groups",
    )
    expect(
        *call(
            base,
            "PUT",
            f"/api/v1/crm-groups/{group['id']}/terms",
            partner_key,
            {"text": "You agree to be charged every month until you stop."},
        ),
        201,
        "PUT terms",
    )
    # A second group without terms, so both shapes of a group are in the data.
    bare = expect(
        *call(base, "POST", "/api/v1/crm-groups", partner_key, {"name": "No terms yet"}),
        201,
        "POST /api/v1/crm-groups",
    )
    today = datetime.datetime.now(datetime.timezone.utc).date()
    dialogue = expect(
        *call(
            base,
            "POST",
            "/api/v1/dialogues",
            partner_key,
            {
                "name": "Monthly giver",
                "crm_group_id": group["id"],
                "start_date": str(today - datetime.timedelta(days=1)),
                "end_date": str(today + datetime.timedelta(days=365)),
                "module_type": "vipps_payments",
                "recurring": True,
                "period": "month",
                "product_name": "Fast giver",
                "product_description": "Monthly support",
                "amount": "100",
                "sender": "2160",
                "reply_message": "Takk! Bli fast giver: {vipps_link}",
                "keyword": "GIVE",
            },
        ),
        201,
        "POST /api/v1/dialogues",
    )
    # A keyword SMS: the workers draft an agreement in the embedded Vipps simulator and
    # reply, which gives messages, an agreement and jobs with real ids.
    expect(
        *call(
            base,
            "POST",
            "/webhooks/sms/inbound",
            inbound_token,
            {"message_id": "st-seed-1", "from": "+4791234567", "to": "2160", "text": "GIVE"},
        ),
        200,
        "POST /webhooks/sms/inbound",
    )
    agreements = []
    deadline = time.time() + 60
    while time.time() < deadline:
        _, page = call(base, "GET", f"/api/v1/dialogues/{dialogue['id']}/agreements", partner_key)
        agreements = [a["id"] for a in page.get("items", [])] if isinstance(page, dict) else []
        if agreements:
            break
        time.sleep(0.5)
    if not agreements:
        sys.exit("seeding failed: the keyword SMS did not lead to an agreement within 60 s")
    _, page = call(base, "GET", "/api/v1/messages", partner_key)
    messages = [m["id"] for m in page["items"]]
    _, page = call(base, "GET", "/api/v1/admin/jobs?limit=20", operator_key)
    jobs = [j["id"] for j in page["items"]]
    _, page = call(base, "GET", "/api/v1/admin/partners", operator_key)
    partners = [p["id"] for p in page["items"]]

    dictionaries = {
        "groups": [group["id"], bare["id"]],
        "dialogues": [dialogue["id"]],
        "agreements": agreements,
        "messages": messages,
        "jobs": jobs,
        "partners": partners,
    }
    # Which id each path's `{id}` is; 70 % of the draws take a real one.
    paths = {
        "groups": "^/api/v1/crm-groups/",
        "dialogues": "^/api/v1/dialogues/",
        "agreements": "^/api/v1/agreements/",
        "messages": "^/api/v1/messages/",
        "jobs": "^/api/v1/admin/jobs/",
        "partners": "^/api/v1/admin/partners/",
    }
    config = "# Written by tests/schemathesis/seed.py for one run.\n"
    for name, values in dictionaries.items():
        config += f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n\n"
    config += (
        "[parameters]\n"
        '"query.dialogue_id" = { dictionary = "dialogues", probability = 0.5 }\n'
        '"query.partner_id" = { dictionary = "partners", probability = 0.5 }\n\n'
    )
    for name, regex in paths.items():
        config += (
            f"[[operations]]\ninclude-path-regex = {json.dumps(regex)}\n"
            f'parameters = {{ "path.id" = {{ dictionary = "{name}", probability = 0.7 }} }}\n\n'
        )
    with open(config_out, "w", encoding="utf-8") as f:
        f.write(config)
    print(
        f"seeded: 2 CRM groups, dialogue {dialogue['id']}, {len(agreements)} agreement(s), "
        f"{len(messages)} message(s), {len(jobs)} job(s)"
    )


if __name__ == "__main__":
    main()

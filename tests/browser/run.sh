#!/usr/bin/env bash
# The portal in a real browser: pytest + Playwright for Python driving Debian's Chromium
# against the real binary.
#
# Starts `dialogpay serve` on a free port from a temp dir with a fresh database, creates a
# partner through the CLI (its API key goes to the tests, which set up data through the JSON
# API), and runs the tests in this folder; each test makes its own portal
# users through the CLI (conftest.py). Screenshots go to target/browser-screenshots/. Fails on
# a failed test, no test run, or an error or panic in the server log.
#
#   tests/browser/run.sh                      # SQLite in a temp dir
#   tests/browser/run.sh postgres://postgres@127.0.0.1:55432/postgres
#                                             # a fresh database on that server
#
# Needs /usr/bin/chromium (Debian: apt-get install chromium fonts-dejavu-core). Environment:
# PYTEST_ARGS (e.g. "-k login -x"), CHROMIUM (another Chromium binary), PYTHON, DIALOGPAY_BIN,
# CARGO_TARGET_DIR (see tests/harness.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=browser
. tests/harness.sh
started=$(date +%s)

chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || die "no Chromium at $chromium (apt-get install chromium fonts-dejavu-core)"
harness_python 9
harness_venv tests/browser/requirements.txt
harness_binary
harness_database "${1:-${BROWSER_DATABASE_URL:-}}"
harness_environment
# The seed's journey posts the keyword to the gateway webhook, and bills by the scheduler alone
# (every 2 s here, as `serve` does on its own cron) once a month has passed in the simulator.
inbound_token="browser-inbound-token"
export DIALOGPAY__SMS__INBOUND_TOKEN="$inbound_token"
export DIALOGPAY__BILLING__SWEEP_CRON="*/2 * * * * *"
export DIALOGPAY__BILLING__RECONCILE_CRON="*/3 * * * * *"
# The test-only job `test.flaky` (registered by the server, enqueued by `dialogpay test-job`):
# the console's tests find a failing job, retry it and cancel many.
export DIALOGPAY_TEST_JOBS=1

say "partner and server on $engine ($base)"
partner_name="Browser charity"
partner=$("$bin" partner create --name "$partner_name" --json) \
  || die "dialogpay partner create failed"
partner_id=$("$python" -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$partner")
partner_key=$("$python" -c 'import json, sys; print(json.loads(sys.argv[1])["api_key"])' "$partner")
harness_serve

say "pytest ($("$chromium" --version 2>/dev/null | head -n 1))"
screenshots="$target/browser-screenshots"
mkdir -p "$screenshots"
export BROWSER_BASE_URL="$base" BROWSER_PARTNER_ID="$partner_id" BROWSER_PARTNER_NAME="$partner_name"
export BROWSER_PARTNER_KEY="$partner_key"
export BROWSER_DIALOGPAY_BIN="$bin" BROWSER_CHROMIUM="$chromium" BROWSER_SCREENSHOTS="$screenshots"
export BROWSER_INBOUND_TOKEN="$inbound_token"
failed=0
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of arguments.
(cd "$work" && "$venv/bin/python" -m pytest "$root/tests/browser" -p no:cacheprovider \
  --rootdir "$root/tests/browser" -q ${PYTEST_ARGS:-}) || failed=$?
# pytest's 5 is "no tests ran": a failure here too.
[ "$failed" = 0 ] || echo "pytest exited $failed" >&2
harness_check_log || failed=1

say "done on $engine in $(($(date +%s) - started)) s; screenshots in $screenshots"
[ "$failed" = 0 ] || die "failed"

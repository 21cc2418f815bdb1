# Shared by the suites that drive the real binary from Python (tests/schemathesis/run.sh,
# tests/browser/run.sh): a Python venv with pinned requirements, the binary, a fresh database
# (a SQLite file in a temp dir, or a new database on a PostgreSQL server), `dialogpay serve` on
# a free port, and the cleanup. Source it from the repository root with `suite` set to the
# suite's name; then call the functions in this order:
#
#   harness_python MINOR          the newest python3.X (X >= MINOR) with venv: $python, $py_version
#   harness_venv REQUIREMENTS     a venv with them under the target dir: $venv
#   harness_binary                $DIALOGPAY_BIN, or `cargo build`: $bin
#   harness_database [DB_SERVER]  $work (a temp dir), $db_url, $engine; the cleanup trap
#   harness_environment           a free port ($port, $base) and DIALOGPAY__* for serve and the CLI
#   harness_serve                 `dialogpay serve` from $work, ready: $server_pid, $server_log
#   harness_check_log             fails the run on errors or panics in the server log
#
# Environment: PYTHON (the interpreter for the venv), DIALOGPAY_BIN (skip the build),
# CARGO_TARGET_DIR (venv and build go there).

die() { printf '%s: %s\n' "$suite" "$*" >&2; exit 1; }
say() { printf '\n--- %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$target" && target=$(cd "$target" && pwd)

harness_python() {
  local minor=$1 candidate
  python=""
  for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
    if "$candidate" -c "import sys; sys.exit(0 if sys.version_info >= (3, $minor) else 1)" 2>/dev/null; then
      python=$candidate
      break
    fi
  done
  [ -n "$python" ] || die "needs Python >= 3.$minor with the venv module (set PYTHON=/path/to/python3)"
  "$python" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$python has no venv/ensurepip module (Debian/Ubuntu: apt-get install python3-venv)"
  py_version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
}

harness_venv() {
  local requirements=$1
  venv="$target/$suite-venv-py$py_version"
  local stamp="$venv/.requirements"
  if ! [ -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
    say "installing $requirements into $venv (Python $py_version)"
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "could not create a venv with $python"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      || die "pip install failed (is the PyPI registry reachable? a proxy set in PIP_INDEX_URL?)"
    cp "$requirements" "$stamp"
  fi
}

harness_binary() {
  if [ -n "${DIALOGPAY_BIN:-}" ]; then
    bin=$DIALOGPAY_BIN
  else
    say "cargo build --bin dialogpay"
    cargo build --bin dialogpay
    bin="$target/debug/dialogpay"
  fi
  [ -x "$bin" ] || die "no dialogpay binary at $bin"
  bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}

server_pid=""
pg_db=""
psql_admin() { "$psql" -q -v ON_ERROR_STOP=1 "$db_server" -c "$1" >/dev/null; }
harness_cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql_admin "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" || echo "could not drop $pg_db" >&2
  fi
  if [ "$rc" = 0 ]; then
    rm -rf "$work"
  else
    echo "$suite: failed; server log and reports kept in $work" >&2
  fi
}

harness_database() {
  db_server=${1:-}
  work=$(mktemp -d "${TMPDIR:-/tmp}/dialogpay-$suite.XXXXXX")
  trap harness_cleanup EXIT
  if [ -n "$db_server" ]; then
    psql=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$psql" ] || die "a PostgreSQL run needs psql (on PATH or in /usr/lib/postgresql/*/bin)"
    pg_db="dp_${suite//-/_}_$(date +%s)_$$"
    psql_admin "CREATE DATABASE $pg_db" || die "could not create database $pg_db on $db_server"
    db_url="${db_server%/*}/$pg_db"
    engine=PostgreSQL
  else
    db_url="sqlite://$work/dialogpay.db"
    engine=SQLite
  fi
}

harness_environment() {
  port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  export DIALOGPAY_ENV=test
  export DIALOGPAY__DATABASE__URL="$db_url"
  export DIALOGPAY__SERVER__PORT="$port"
  export DIALOGPAY__SERVER__PUBLIC_BASE_URL="$base"
  export DIALOGPAY__LOG__FORMAT=json
  export DIALOGPAY__LOG__LEVEL=warn
}

harness_serve() {
  server_log="$work/server.log"
  (cd "$work" && exec "$bin" serve) >"$server_log" 2>&1 &
  server_pid=$!
  local ready="import urllib.request; urllib.request.urlopen('$base/readyz', timeout=2)"
  for _ in $(seq 1 120); do
    "$python" -c "$ready" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$server_log" >&2; die "the server exited during startup"; }
    sleep 0.5
  done
  die "the server did not become ready within 60 s (log: $server_log)"
}

# Errors and panics in the server log, except the test-only job's own failures (the console's
# browser tests make `test.flaky` jobs fail on purpose: "flaky job NAME failing on attempt N").
harness_log_errors() {
  grep -E '"level":"(ERROR)"|panicked' "$server_log" | grep -v '"error":"flaky job [^"]* failing on attempt [0-9]*"'
}

harness_check_log() {
  kill -0 "$server_pid" 2>/dev/null || { echo "the server died during the run" >&2; return 1; }
  if harness_log_errors >/dev/null; then
    echo "errors or panics in the server log:" >&2
    harness_log_errors | head -n 20 >&2
    return 1
  fi
}

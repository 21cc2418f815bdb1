#!/usr/bin/env bash
# The reference figure issue 15 holds `dialogpay bench queue` against: graphile-worker 0.17.3
# (npm) on the same PostgreSQL server, N no-op jobs queued first, 8 concurrent, unbatched (its
# defaults: one completion statement per job). Installs graphile-worker in a throwaway
# directory (node and the npm registry are needed; nothing is committed but this script) and
# prints the figure with its conditions, in the shape `bench queue` prints its own.
#
#   tests/reference/graphile-worker.sh postgres://postgres@127.0.0.1:55432/gw [JOBS] [PRELOAD_DONE]
#
# The database is graphile-worker's alone: its schema is created (or reused) and its job table
# emptied first. PRELOAD_DONE is accepted for symmetry with `bench queue --preload-done` and
# must be 0: graphile-worker deletes a job when it completes, so it keeps no finished rows.
set -euo pipefail
url=${1:?usage: $0 POSTGRES_URL [JOBS] [PRELOAD_DONE]}
jobs=${2:-100000}
preload=${3:-0}
[ "$preload" = 0 ] || { echo "graphile-worker keeps no finished jobs: PRELOAD_DONE must be 0" >&2; exit 2; }
command -v node >/dev/null || { echo "node is needed" >&2; exit 1; }
dir=$(mktemp -d /tmp/graphile-worker-ref.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund graphile-worker@0.17.3 >/dev/null
cat > bench.mjs <<'EOF'
import { run, runMigrations } from "graphile-worker";
import pg from "pg";

const [url, jobsArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = 8;
await runMigrations({ connectionString: url, logger: quiet() });
const db = new pg.Client({ connectionString: url });
await db.connect();
const settings = await db.query(
  "SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync, " +
    "current_setting('synchronous_commit') AS sc",
);
const { v, fsync, sc } = settings.rows[0];
const durable = fsync === "on" && sc !== "off" ? "durable" : "NOT durable";
console.log(
  `graphile-worker 0.17.3 (node ${process.version}): ${jobs} no-op jobs, concurrency ${concurrency}, unbatched`,
);
console.log(`  conditions: PostgreSQL ${v}, fsync ${fsync}, synchronous_commit ${sc} (${durable})`);
await db.query("DELETE FROM graphile_worker._private_jobs");
await db.query(
  "SELECT graphile_worker.add_jobs(ARRAY(SELECT json_populate_record(NULL::graphile_worker.job_spec, " +
    "'{\"identifier\": \"noop\", \"payload\": {}}') FROM generate_series(1, $1)))",
  [jobs],
);
const left = async () =>
  Number((await db.query("SELECT count(*) AS n FROM graphile_worker._private_jobs")).rows[0].n);
console.log(`  queued ${await left()} jobs`);
const started = process.hrtime.bigint();
const runner = await run({
  connectionString: url,
  concurrency,
  noHandleSignals: true,
  pollInterval: 1000,
  logger: quiet(),
  taskList: { noop: async () => {} },
});
while ((await left()) > 0) await new Promise((r) => setTimeout(r, 100));
const secs = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`  drained ${jobs} jobs in ${secs.toFixed(1)} s: ${Math.round(jobs / secs)} jobs/s`);
await runner.stop();
await db.end();

function quiet() {
  const logger = { error: console.error, warn: () => {}, info: () => {}, debug: () => {} };
  return { scope: () => quiet(), ...logger };
}
EOF
node bench.mjs "$url" "$jobs"

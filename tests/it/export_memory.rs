//! A CSV export of 100,000 messages from the real binary: every row arrives, and the server's
//! peak memory (`VmHWM`) grows by a small fraction of the file's size, because the export is
//! streamed in batches and never held whole (SQLite's page cache, memory that grows with the
//! rows read up to `database.sqlite_cache_mib` per connection, is kept small here).

use std::process::Command;

use dialogpay::service::{OperatorActor, users};

use crate::support::{
    db::TestDb,
    portal::PortalClient,
    process::{ChildGuard, spawn_listening},
    seeder_for,
};

const ROWS: u64 = 100_000;
const PASSWORD: &str = "correct horse battery staple";

/// The peak resident memory of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("procfs");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// `dialogpay serve` on `db` (the development settings: simulator, outbox), from a temp dir.
fn serve(db: &TestDb, log: &std::path::Path) -> (ChildGuard, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogpay"));
    cmd.arg("serve")
        .current_dir(std::env::temp_dir())
        .env("DIALOGPAY__DATABASE__URL", &db.url)
        .env("DIALOGPAY__SERVER__PORT", "0")
        // SQLite's page cache would grow with the rows read (it is memory that stays bounded,
        // but not flat): kept small, so that what grows is the export's own memory.
        .env("DIALOGPAY__DATABASE__SQLITE_CACHE_MIB", "1")
        .env("DIALOGPAY__LOG__LEVEL", "warn");
    spawn_listening(cmd, Some(log))
}

/// Bytes and CSV lines of a streamed download, read chunk by chunk.
async fn download(client: &PortalClient, path: &str) -> (u64, u64) {
    let mut response = client
        .http
        .get(format!("{}{path}", client.base))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    (bytes, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_100000_messages_keeps_the_servers_memory_flat() {
    let db = TestDb::create().await;
    let state = seeder_for(&db, "http://127.0.0.1:9", "http://127.0.0.1:9").await;
    let seeded = dialogpay::bench::portal::seed(&state, 10, ROWS)
        .await
        .expect("seeds");
    let ctx = users::UserContext::of(&state);
    let operator = OperatorActor::named("operator:test");
    let user = users::create_with_password(
        &ctx,
        &operator,
        &seeded.partner_id,
        "export@example.org",
        PASSWORD,
    )
    .await
    .expect("a user");
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(&db, &dir.path().join("serve.log"));
    let client = PortalClient::new(&base);
    let login = client.log_in(&user.email, PASSWORD).await;
    assert!(login.status.is_redirection(), "{}", login.html);

    // A small export first, so that what every request needs is already there.
    let (_, few) = download(&client, "/portal/messages.csv?phone=%2B4740000007").await;
    assert!(few > 1 && few < 100, "{few} lines");
    let before = peak_rss(server.id());
    let (bytes, lines) = download(&client, "/portal/messages.csv").await;
    let growth = peak_rss(server.id()).saturating_sub(before);
    assert_eq!(lines, ROWS + 1, "the header and every message");
    eprintln!(
        "exported {ROWS} rows, {} MiB; the server's peak RSS grew {:.1} MiB",
        bytes / (1 << 20),
        growth as f64 / f64::from(1 << 20)
    );
    assert!(
        growth < bytes / 4,
        "held in memory? peak grew {growth} bytes for a {bytes}-byte export"
    );
    drop(server);
}

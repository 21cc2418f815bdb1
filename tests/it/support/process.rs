//! The real binary as a child process: a guard that kills it when dropped (so a failing test
//! leaves nothing behind, and a test's database is dropped only after its processes are gone),
//! and a start helper that waits for the "listening on http://…" line.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

/// A child process; killed (SIGKILL) when dropped. When the test fails, the tail of its log is
/// printed.
pub struct ChildGuard {
    child: Child,
    log: Option<PathBuf>,
}

impl ChildGuard {
    pub fn new(child: Child, log: Option<PathBuf>) -> Self {
        Self { child, log }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9` and reap.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM (a graceful stop) and wait for the exit.
    pub fn terminate(&mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("runs kill");
        assert!(status.success());
        let exit = self.child.wait().expect("exits");
        assert!(exit.success(), "graceful exit: {exit}");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking()
            && let Some(log) = &self.log
        {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("--- last lines of {}:\n{}", log.display(), tail.join("\n"));
        }
    }
}

/// Starts `cmd` (stderr to `log`, or nowhere) and waits for its first `… listening on URL`
/// line on stdout; returns the URL. The rest of stdout is read and dropped.
pub fn spawn_listening(mut cmd: Command, log: Option<&Path>) -> (ChildGuard, String) {
    let stderr = match log {
        Some(path) => Stdio::from(File::create(path).expect("creates the log file")),
        None => Stdio::null(),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("starts the dialogpay binary");
    let stdout = child.stdout.take().expect("stdout");
    let guard = ChildGuard::new(child, log.map(Path::to_path_buf));
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the process printed its address before exiting")
            .expect("readable");
        if let Some((_, url)) = line.split_once("listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (guard, url)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("binds a free port");
    probe.local_addr().unwrap().port()
}

/// `dialogpay vipps-sim` on a free port, its state in `state` (written at most every 500 ms:
/// every change would rewrite thousands of agreements).
pub fn start_simulator(state: &Path, log: &Path) -> (ChildGuard, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogpay"));
    cmd.args([
        "vipps-sim",
        "--port",
        "0",
        "--save-interval-ms",
        "500",
        "--state",
    ])
    .arg(state)
    .env("DIALOGPAY__LOG__LEVEL", "warn");
    spawn_listening(cmd, Some(log))
}

/// A cron expression that does not fire during a test.
const NEVER: &str = "0 0 0 1 1 *";

const RATE_LIMIT_KEYS: [&str; 11] = [
    "draft_agreement",
    "list_agreements",
    "fetch_agreement",
    "update_agreement",
    "create_charge",
    "list_charges",
    "fetch_charge",
    "fetch_charge_by_id",
    "cancel_charge",
    "capture_charge",
    "refund_charge",
];

/// Settings for talking to a standalone simulator as if it were Vipps: live mode, dummy
/// credentials, no client-side throttle, no scheduled sweeps (the test sweeps; the scheduler
/// itself is tested in `scheduler.rs` and `split.rs`).
pub fn live_vipps_env(sim: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("VIPPS__MODE", "live"),
        ("VIPPS__BASE_URL", sim),
        ("VIPPS__CLIENT_ID", "simulator"),
        ("VIPPS__CLIENT_SECRET", "simulator"),
        ("VIPPS__SUBSCRIPTION_KEY", "simulator"),
        // Live mode refuses to start without one; no webhook is registered here (polling).
        ("VIPPS__WEBHOOK_SECRET", "test-webhook-secret-unregistered"),
        ("BILLING__SWEEP_CRON", NEVER),
        ("BILLING__RECONCILE_CRON", NEVER),
    ]
    .into_iter()
    .map(|(k, v)| (format!("DIALOGPAY__{k}"), v.to_owned()))
    .collect();
    for key in RATE_LIMIT_KEYS {
        env.push((
            format!("DIALOGPAY__VIPPS__RATE_LIMITS__{}", key.to_uppercase()),
            "0".to_owned(),
        ));
    }
    env
}

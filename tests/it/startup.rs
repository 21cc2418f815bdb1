//! The real binary started as an operator would: from a directory without `config/`, with one
//! setting changed at a time. It does its job, or refuses at once naming what is missing.

use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    db::TestDb,
    eventually,
    process::{free_port, spawn_listening},
};

/// `dialogpay ARGS` in `dir` with only `env` set (no inherited DIALOGPAY_* settings).
fn dialogpay(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogpay"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE");
    for (k, _) in std::env::vars() {
        if k.starts_with("DIALOGPAY") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Runs to its end; it must fail at once, and its stderr is returned.
fn refused(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let started = std::time::Instant::now();
    let Output { status, stderr, .. } = dialogpay(dir, args, env)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert!(!status.success(), "{args:?} {env:?} started: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused, but late: {stderr}"
    );
    stderr
}

#[test]
fn production_with_nothing_set_refuses_naming_every_missing_setting() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    // Migrated first, so the refusal below is about the settings, not the schema.
    let out = dialogpay(
        dir.path(),
        &["migrate"],
        &[("DIALOGPAY__DATABASE__URL", &db)],
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    let env = [
        ("DIALOGPAY_ENV", "production"),
        ("DIALOGPAY__DATABASE__URL", db.as_str()),
    ];
    let stderr = refused(dir.path(), &["serve"], &env);
    for key in [
        "vipps.client_id",
        "vipps.client_secret",
        "vipps.subscription_key",
        "vipps.webhook_secret",
        "server.public_base_url",
        "sms.provider",
    ] {
        assert!(stderr.contains(key), "{key} not named: {stderr}");
    }
    // Asking for the simulator explicitly is allowed only in `serve` (with a warning), never
    // in `api` or `worker`, which are told how to run the split deployment without Vipps.
    let mut with_sim = env.to_vec();
    with_sim.push(("DIALOGPAY__VIPPS__MODE", "simulator"));
    for role in ["api", "worker"] {
        let stderr = refused(dir.path(), &[role], &with_sim);
        assert!(stderr.contains("dialogpay vipps-sim"), "{role}: {stderr}");
    }
}

#[test]
fn an_environment_that_exists_nowhere_stops_startup_with_the_places_tried() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused(dir.path(), &["serve"], &[("DIALOGPAY_ENV", "staging")]);
    assert!(stderr.contains("staging.toml"), "{stderr}");
    assert!(stderr.contains("built-in environments"), "{stderr}");
    let stderr = refused(dir.path(), &["--config-dir", "/no/such/dir", "serve"], &[]);
    assert!(stderr.contains("/no/such/dir"), "{stderr}");
}

#[tokio::test]
async fn a_role_that_does_not_migrate_refuses_an_unmigrated_database_at_once() {
    let test_db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    for role in ["serve", "api"] {
        let stderr = refused(
            dir.path(),
            &[role],
            &[
                ("DIALOGPAY__DATABASE__URL", &test_db.url),
                ("DIALOGPAY__DATABASE__MIGRATE_ON_START", "false"),
                ("DIALOGPAY__SERVER__PORT", "0"),
            ],
        );
        assert!(
            stderr.contains("this binary needs") && stderr.contains("run dialogpay migrate"),
            "{role}: {stderr}"
        );
    }
}

/// The README's demo from another directory with only the port changed: the keyword is
/// answered with a link on that port, the agreement becomes ACTIVE, and a month later the
/// scheduler (no manual sweep) creates the next charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_on_another_port_walks_the_journey_with_links_on_that_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_s = port.to_string();
    let mut cmd = dialogpay(
        dir.path(),
        &["demo"],
        &[("DIALOGPAY__SERVER__PORT", &port_s)],
    );
    cmd.env("DIALOGPAY__LOG__LEVEL", "warn");
    let log = dir.path().join("demo.log");
    let (_demo, base) = spawn_listening(cmd, Some(&log));
    assert_eq!(base, format!("http://127.0.0.1:{port}"));
    let key = std::fs::read_to_string(dir.path().join("data/demo-partner-key"))
        .expect("the demo keeps its partner key");
    let http = reqwest::Client::new();
    let sms =
        json!({ "message_id": "demo-1", "from": "+4791234567", "to": "2160", "text": "GIVE" });
    let r = http
        .post(format!("{base}/webhooks/sms/inbound"))
        .bearer_auth("demo-inbound-token")
        .json(&sms)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let get = |path: String| {
        let (http, key) = (http.clone(), key.trim().to_owned());
        async move {
            http.get(path)
                .bearer_auth(key)
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()
        }
    };
    let text = eventually(Duration::from_secs(30), "the reply", || {
        let page = get(format!("{base}/api/v1/messages?direction=out"));
        async move { Some(page.await?["items"][0]["text"].as_str()?.to_owned()) }
    })
    .await;
    let link_prefix = format!("{base}/vipps-sim/landing/");
    let id = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&link_prefix))
        .unwrap_or_else(|| panic!("no link on port {port} in {text:?}"))
        .to_owned();
    let r = http
        .post(format!("{link_prefix}{id}/confirm"))
        .form(&[("pin", "1234")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let charges = |want: usize| {
        let url = format!("{base}/api/v1/charges");
        async move {
            let page = get(url).await?;
            let items = page["items"].as_array()?.clone();
            (items.len() >= want).then_some(items)
        }
    };
    eventually(Duration::from_secs(30), "the first payment", || charges(1)).await;
    let r = http
        .post(format!("{base}/vipps-sim/_sim/clock"))
        .json(&json!({ "advance_days": 31 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let items = eventually(
        Duration::from_secs(60),
        "the next charge, created by the scheduler",
        || charges(2),
    )
    .await;
    assert!(items.iter().any(|c| c["period_index"] == 1), "{items:?}");
}

/// A public address that is not this host (a proxy, a domain): the links carry it, while the
/// in-process Vipps client still reaches the embedded simulator at the listener.
#[tokio::test]
async fn links_carry_the_public_address_while_the_simulator_is_reached_at_the_listener() {
    use crate::support::{INBOUND_TOKEN, Options, TestApp, keyword_dialogue};
    let app = TestApp::spawn_with(Options {
        overrides: vec![("server.public_base_url", "https://pay.example.org/".into())],
        ..Options::default()
    })
    .await;
    assert_eq!(&*app.state.public_base_url, "https://pay.example.org");
    keyword_dialogue(&app.http, &app.base).await;
    let sms = json!({ "message_id": "gw-1", "from": "+4791234567", "to": "2160", "text": "GIVE" });
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "/webhooks/sms/inbound",
            Some(INBOUND_TOKEN),
            Some(sms),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let agreement = eventually(
        Duration::from_secs(30),
        "the draft at the simulator",
        || async { app.simulator.as_ref()?.agreements().into_iter().next() },
    )
    .await;
    // Read back through the state's own client: it reaches the simulator at the listener.
    let read = app
        .state
        .vipps
        .get_agreement(&agreement.msn, &agreement.agreement_id)
        .await
        .expect("the in-process client reaches the embedded simulator");
    let manage = read.merchant_agreement_url.unwrap_or_default();
    assert!(
        manage.starts_with("https://pay.example.org/my/agreements/"),
        "{manage}"
    );
    let text: String = eventually(Duration::from_secs(30), "the reply", || async {
        let db = &app.state.db;
        dialogpay::with_pool!(db, |p| sqlx::query_scalar(
            "SELECT text FROM messages WHERE direction = 'out'"
        )
        .fetch_optional(p)
        .await)
        .unwrap()
    })
    .await;
    assert!(
        text.contains("https://pay.example.org/vipps-sim/landing/"),
        "{text}"
    );
    app.stop().await;
}

/// Rolling deploys: a database migrated by a newer binary is accepted (migrations only add),
/// one missing a migration is refused with the versions.
#[tokio::test]
async fn the_schema_check_accepts_a_newer_schema_and_refuses_an_older_one() {
    let test_db = TestDb::create().await;
    let db = test_db.connect().await;
    let err = db.check_schema().await.unwrap_err().to_string();
    assert!(err.contains("version none"), "{err}");
    db.migrate().await.unwrap();
    db.check_schema().await.expect("the current schema");
    let run = |sql: &'static str| {
        let db = db.clone();
        async move {
            dialogpay::with_pool!(&db, |p| sqlx::query(sql)
                .bind(vec![0u8; 48])
                .execute(p)
                .await
                .map(|r| r.rows_affected()))
            .unwrap()
        }
    };
    run("INSERT INTO _dialogpay_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (99990101000000, 'from a newer binary', CURRENT_TIMESTAMP, TRUE, $1, 0)")
        .await;
    db.check_schema()
        .await
        .expect("a newer schema is only a warning");
    // Back to this binary's schema minus its newest migration: an older database.
    run("DELETE FROM _dialogpay_migrations WHERE version = 99990101000000 OR $1 IS NULL").await;
    run(
        "DELETE FROM _dialogpay_migrations WHERE $1 IS NOT NULL AND version = \
         (SELECT MAX(version) FROM _dialogpay_migrations)",
    )
    .await;
    let err = db.check_schema().await.unwrap_err().to_string();
    assert!(
        err.contains("this binary needs") && err.contains("run dialogpay migrate"),
        "{err}"
    );
}

#[test]
fn in_production_a_user_link_is_refused_without_the_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    let env = [
        ("DIALOGPAY_ENV", "production"),
        ("DIALOGPAY__DATABASE__URL", db.as_str()),
    ];
    for args in [
        &["user", "reset-link", "--email", "kari@example.org"][..],
        &["operator", "create", "--email", "op@example.org"][..],
        &["operator", "reset-link", "--email", "op@example.org"][..],
    ] {
        let stderr = refused(dir.path(), args, &env);
        assert!(
            stderr.contains("server.public_base_url"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn operator_reset_link_prints_a_new_link_and_refuses_an_unknown_email() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    let env = [("DIALOGPAY__DATABASE__URL", db.as_str())];
    let run = |args: &[&str]| dialogpay(dir.path(), args, &env).output().unwrap();
    assert!(run(&["migrate"]).status.success());
    let url = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["set_password_url"].as_str().unwrap().to_owned()
    };
    let first = url(run(&[
        "operator",
        "create",
        "--email",
        "op@example.org",
        "--json",
    ]));
    let second = url(run(&[
        "operator",
        "reset-link",
        "--email",
        "OP@example.org",
        "--json",
    ]));
    assert!(second.contains("/console/set-password/"), "{second}");
    assert_ne!(first, second);
    let stderr = refused(
        dir.path(),
        &["operator", "reset-link", "--email", "no@example.org"],
        &env,
    );
    assert!(stderr.contains("operator not found"), "{stderr}");
}

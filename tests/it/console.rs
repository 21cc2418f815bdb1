//! The operator console through the real app: operators log in through their one-time link,
//! find a failed job by state, queue and the ids in its payload, read it, retry it (audited as
//! `operator:{email}`) and see it run; a read-only operator sees every control disabled with
//! the reason and is refused when posting anyway; partner users never reach the console (a
//! partner's session answers 404, its credentials are refused); forms need their CSRF token.

use std::time::Duration;

use dialogpay_jobs::testing::Flaky;
use reqwest::StatusCode;

use crate::support::{Options, TestApp, console::insert_failed_jobs, portal::PASSWORD};

fn failing(name: &str) -> Flaky {
    Flaky {
        name: name.into(),
        fail_times: 1,
        permanent: true,
        sleep_ms: 0,
        snooze_first_ms: 0,
    }
}

#[tokio::test]
async fn an_operator_finds_a_failed_job_reads_it_and_retries_it() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&failing("needle-42")).await;
    let row = app.settled_job(&id).await;
    assert_eq!(row.status.as_str(), "failed", "{row:?}");
    let console = app.console_login(false).await;

    // The default filter: failed jobs of the last 24 hours.
    let page = console.get("/console/jobs").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains(&format!("data-job=\"{id}\"")),
        "{}",
        page.html
    );
    assert!(page.html.contains("<option value=\"failed\" selected>"));
    // By queue, by the id in its payload, by its own id; another queue finds nothing.
    for query in [
        "queue=test.flaky".to_owned(),
        "q=needle-42".to_owned(),
        format!("q={id}&state=any&window=all"),
    ] {
        let page = console.get(&format!("/console/jobs?{query}")).await;
        assert!(page.html.contains(&format!("data-job=\"{id}\"")), "{query}");
    }
    let page = console.get("/console/jobs?queue=sms.send").await;
    assert!(page.html.contains("id=\"no-jobs\""), "{}", page.html);
    let page = console.get("/console/jobs?q=needle-43").await;
    assert!(page.html.contains("id=\"no-jobs\""));

    // Its page: queue, state, attempts, the error and the payload.
    let page = console.get(&format!("/console/jobs/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<dd id=\"job-queue\">test.flaky</dd>"));
    assert!(page.html.contains("id=\"job-state\">failed</span>"));
    assert!(
        page.html.contains("<dd id=\"job-attempts\">1 / 1</dd>"),
        "{}",
        page.html
    );
    assert!(page.html.contains("id=\"job-error\""));
    assert!(page.html.contains("needle-42"));

    // Retry: back on the job's page, it runs again (and fails again: it is permanent).
    let path = format!("/console/jobs/{id}");
    let done = console.submit(&path, &format!("{path}/retry"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), format!("{path}?done=retried"));
    let row = app.settled_job(&id).await;
    assert_eq!(row.attempts, 2, "{row:?}");
    // Both attempts are on its page: the first failed for good with its error, the retry done.
    let page = console.get(&path).await;
    let attempt_row = |attempt: &str| {
        let at = page
            .html
            .find(&format!("<tr data-attempt=\"{attempt}\">"))
            .unwrap_or_else(|| panic!("attempt {attempt}: {}", page.html));
        page.html[at..at + page.html[at..].find("</tr>").unwrap()].to_owned()
    };
    let first = attempt_row("1");
    assert!(first.contains("data-status=\"permanent\""), "{first}");
    assert!(first.contains("failing on attempt 1"), "{first}");
    let second = attempt_row("2");
    assert!(second.contains("data-status=\"done\""), "{second}");
    let entry = app.audit_entry("job.retry").await;
    assert_eq!(entry["actor"], format!("operator:{}", console.email));

    // A refused action is a message on the same page: a failed job cannot be retried twice
    // while it is pending, a done one not at all.
    let id = app
        .enqueue(&Flaky {
            fail_times: 0,
            ..failing("fine")
        })
        .await;
    app.wait_job(&id, "done", Duration::from_secs(10)).await;
    let path = format!("/console/jobs/{id}");
    let refused = console.submit(&path, &format!("{path}/retry"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.html.contains("cannot retry a job that is done"),
        "{}",
        refused.html
    );
    assert!(refused.html.contains(&format!("Job {id}")));
    app.stop().await;
}

#[tokio::test]
async fn a_read_only_operator_sees_disabled_controls_and_cannot_act() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&failing("read-only")).await;
    app.settled_job(&id).await;
    let console = app.console_login(true).await;
    let page = console.get("/console/jobs").await;
    assert!(page.html.contains("Operator (read-only)"));
    assert!(page.html.contains("id=\"read-only-reason\""));
    for button in [
        "retry-selected",
        "cancel-selected",
        "retry-matching",
        "cancel-matching",
    ] {
        let marker = format!("id=\"{button}\" disabled aria-describedby=\"read-only-reason\"");
        let with_class = format!(
            "id=\"{button}\" class=\"button-danger\" disabled aria-describedby=\"read-only-reason\""
        );
        assert!(
            page.html.contains(&marker) || page.html.contains(&with_class),
            "{button}: {}",
            page.html
        );
    }
    let path = format!("/console/jobs/{id}");
    let page = console.get(&path).await;
    assert!(
        page.html.contains(
            "id=\"retry\" class=\"button-primary\" disabled aria-describedby=\"read-only-reason\""
        ),
        "{}",
        page.html
    );
    // Posting anyway changes nothing.
    let refused = console.submit(&path, &format!("{path}/retry"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.html.contains("read-only"));
    let bulk = console
        .submit(
            "/console/jobs",
            "/console/jobs/bulk",
            &[("op", "cancel-matching"), ("confirmed", "yes")],
        )
        .await;
    assert_ne!(bulk.status, StatusCode::SEE_OTHER, "{}", bulk.html);
    assert_eq!(app.settled_job(&id).await.attempts, 1);
    assert_eq!(app.settled_job(&id).await.status.as_str(), "failed");
    app.stop().await;
}

#[tokio::test]
async fn partner_users_never_reach_the_console() {
    let app = TestApp::spawn().await;
    let (partner, _) = app.partner("Console outsider").await;
    let portal = app.portal_login(&partner).await;
    // Its cookies are the portal's (Path=/portal): the console sends it to its own login.
    let page = portal.get("/console/jobs").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with("/console/login?next="));
    // Its session sent to the console on purpose: there is no console for it.
    let token = portal_session_token(&app, &portal).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/console/jobs", app.base))
        .header("cookie", format!("portal_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console/jobs", app.base))
        .header("cookie", format!("console_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "a portal token is no console session"
    );
    // Its email and password do not log in to the console.
    let browser = app.portal_client();
    let page = browser
        .submit(
            "/console/login",
            "/console/login",
            &[("email", &portal.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("Wrong email or password."));
    app.stop().await;
}

/// The portal session cookie's value in `client`'s store, read from a fresh login's answer.
async fn portal_session_token(
    app: &TestApp,
    client: &crate::support::portal::PortalClient,
) -> String {
    let fresh = app.portal_client();
    let page = fresh.log_in(&client.email, PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    page.set_cookies()
        .iter()
        .find_map(|c| c.strip_prefix("portal_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test]
async fn the_console_logs_in_and_out_with_its_own_cookies_and_forms_need_their_token() {
    let app = TestApp::spawn().await;
    let anonymous = app.portal_client();
    let page = anonymous.get("/console/jobs?state=any").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        "/console/login?next=%2Fconsole%2Fjobs%3Fstate%3Dany"
    );
    let login = anonymous.get("/console/login").await;
    assert!(login.html.contains("action=\"/console/login\""));
    assert!(login.html.contains("operator console"));

    let console = app.console_login(false).await;
    // Logged out, then in again through the form, back to where it was going.
    let out = console
        .submit("/console/jobs", "/console/logout", &[])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/console/login");
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("console_session=") && c.contains("Path=/console"))
    );
    assert_eq!(
        console.get("/console/jobs").await.status,
        StatusCode::SEE_OTHER
    );
    let page = console
        .submit(
            "/console/login",
            "/console/login",
            &[
                ("email", &console.email),
                ("password", PASSWORD),
                ("next", "/console/jobs?state=any"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/console/jobs?state=any");
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("console_session=")
                && c.contains("Path=/console")
                && c.contains("HttpOnly"))
    );
    assert_eq!(console.get("/console/jobs").await.status, StatusCode::OK);

    // Without the token, or with the portal's, a POST is refused before it acts.
    let refused = console.post_form("/console/jobs/x/retry", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = console
        .post_form(
            "/console/jobs/bulk",
            &[
                ("op", "cancel-matching"),
                ("confirmed", "yes"),
                ("csrf_token", "0"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Unknown jobs are 404 pages.
    assert_eq!(
        console.get("/console/jobs/nope").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn ten_thousand_failed_jobs_are_cancelled_in_one_confirmed_step() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    insert_failed_jobs(&app.state.db, "test.bulk", 10_000).await;
    insert_failed_jobs(&app.state.db, "test.other", 3).await;
    let console = app.console_login(false).await;
    // Over every state and all time there are more than a list counts.
    let all = console.get("/console/jobs?state=any&window=all").await;
    assert!(
        all.html.contains("More than 10000 jobs match."),
        "{}",
        &all.html[..2000.min(all.html.len())]
    );
    assert!(all.html.contains(">Cancel all matching…</button>"));
    let page = console.get("/console/jobs?queue=test.bulk").await;
    assert!(
        page.html.contains("10000 jobs match."),
        "{}",
        &page.html[..2000.min(page.html.len())]
    );
    assert_eq!(page.html.matches("data-job=").count(), 50);

    // The first step asks, with the number; nothing has changed yet.
    let fields = [
        ("op", "cancel-matching"),
        ("state", "failed"),
        ("queue", "test.bulk"),
        ("window", "24h"),
        ("q", ""),
    ];
    let confirm = console
        .submit(
            "/console/jobs?queue=test.bulk",
            "/console/jobs/bulk",
            &fields,
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(
        confirm.html.contains("Cancel 10000 jobs?"),
        "{}",
        confirm.html
    );
    let still = console.get("/console/jobs?queue=test.bulk").await;
    assert!(still.html.contains("10000 jobs match."));

    // Confirmed: one statement, back on the list with the count.
    let token = confirm.csrf_token();
    let mut confirmed = fields.to_vec();
    confirmed.extend([("confirmed", "yes"), ("csrf_token", token.as_str())]);
    let started = std::time::Instant::now();
    let done = console.post_form("/console/jobs/bulk", &confirmed).await;
    let took = started.elapsed();
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(
        done.location().ends_with("&done=cancelled&n=10000"),
        "{}",
        done.location()
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let after = console.get(done.location()).await;
    assert!(after.html.contains("10000 jobs cancelled."));
    assert!(after.html.contains("0 jobs match."));
    let killed = console
        .get("/console/jobs?queue=test.bulk&state=killed")
        .await;
    assert!(killed.html.contains("10000 jobs match."));
    // The other queue is untouched; selected jobs are retried, and only those.
    let other = console.get("/console/jobs?queue=test.other").await;
    assert!(other.html.contains("3 jobs match."));
    let ids: Vec<String> = other
        .html
        .match_indices("data-job=\"")
        .map(|(at, m)| {
            other.html[at + m.len()..]
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .take(2)
        .collect();
    let token = other.csrf_token();
    let mut picked = vec![
        ("op", "retry-selected"),
        ("confirmed", "yes"),
        ("csrf_token", token.as_str()),
    ];
    picked.extend(ids.iter().map(|id| ("id", id.as_str())));
    let done = console.post_form("/console/jobs/bulk", &picked).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(
        done.location().ends_with("&done=retried&n=2"),
        "{}",
        done.location()
    );
    let pending = console
        .get("/console/jobs?queue=test.other&state=pending")
        .await;
    assert!(pending.html.contains("2 jobs match."));
    for action in ["job.bulk_cancel", "job.bulk_retry"] {
        let entry = app.audit_entry(action).await;
        assert_eq!(entry["actor"], format!("operator:{}", console.email));
    }
    app.stop().await;
}

#[tokio::test]
async fn the_overview_counts_jobs_by_queue_and_state_and_refreshes_by_the_menu() {
    let app = TestApp::spawn().await;
    let id = app.enqueue(&failing("overview")).await;
    app.settled_job(&id).await;
    // Enqueued to run in ten minutes: scheduled for later, not pending.
    let later = app
        .state
        .enqueuer
        .enqueue_in(&failing("later"), Duration::from_secs(600))
        .await
        .unwrap()
        .unwrap();
    insert_failed_jobs(&app.state.db, "test.bulk", 7).await;
    // A sweep, run now as the admin API does: the overview shows how it ended.
    let (status, _) = app
        .post(
            "/api/v1/admin/billing/sweep",
            crate::support::OPERATOR_KEY,
            serde_json::json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    app.run_pending_jobs().await;
    let console = app.console_login(false).await;
    let page = console.get("/console/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("aria-current=\"page\">Overview</a>"));
    let row = |html: &str, queue: &str| {
        let at = html
            .find(&format!("<tr data-queue=\"{queue}\">"))
            .unwrap_or_else(|| panic!("{queue} listed: {html}"));
        html[at..].split("</tr>").next().unwrap().to_owned()
    };
    let bulk = row(&page.html, "test.bulk");
    assert!(
        bulk.contains("state=failed&amp;window=all\">7</a>"),
        "{bulk}"
    );
    let flaky = row(&page.html, "test.flaky");
    assert!(
        flaky.contains("state=failed&amp;window=all\">1</a>"),
        "{flaky}"
    );
    assert!(
        flaky.contains("<td data-state=\"scheduled\"><a href=\"/console/jobs?queue=test.flaky&amp;state=scheduled&amp;window=all\">1</a>"),
        "{flaky}"
    );
    assert!(
        flaky.contains("state=pending&amp;window=all\">0</a>"),
        "{flaky}"
    );
    let scheduled = console
        .get("/console/jobs?queue=test.flaky&state=scheduled&window=all")
        .await;
    assert!(scheduled.html.contains(&format!("data-job=\"{later}\"")));
    assert!(!scheduled.html.contains(&format!("data-job=\"{id}\"")));
    // This minute's attempts: the failure drawn and in the chart's table.
    assert!(
        page.html.contains("<svg id=\"throughput\""),
        "{}",
        page.html
    );
    assert!(page.html.contains("class=\"chart-bar chart-bar-failed\""));
    assert!(page.html.contains("<table id=\"throughput-table\">"));
    // The sweep just run.
    let last = page.html.split("<td id=\"last-sweep\">").nth(1).unwrap();
    assert!(
        last.starts_with("<span class=\"badge badge-good\" data-status=\"done\">done</span> at "),
        "{last}"
    );
    assert!(page.html.contains("<td id=\"last-reconcile\">"));
    // The worker process (one row, every queue it works) with its heartbeat.
    assert!(
        page.html.contains("<table id=\"workers\">"),
        "{}",
        page.html
    );
    assert_eq!(
        page.html.matches("<tr data-instance=").count(),
        1,
        "{}",
        page.html
    );
    let process = page.html.split("<tr data-instance=").nth(1).unwrap();
    let process = process.split("</tr>").next().unwrap();
    assert!(
        process.contains("billing.sweep, ") && process.contains("test.flaky"),
        "{process}"
    );
    assert!(page.html.contains("<td id=\"next-sweep\">"));
    // 5 s by default, kept in the URL; htmx gets only the figures.
    assert!(
        page.html
            .contains("data-refresh-url=\"/console/?refresh=5\" data-refresh-seconds=\"5\"")
    );
    assert!(page.html.contains("<option value=\"5\" selected>"));
    assert!(page.html.contains("/portal/assets/portal-2.js"));
    let off = console.get("/console/?refresh=off").await;
    assert!(off.html.contains("data-refresh-seconds=\"0\""));
    assert!(off.html.contains("<option value=\"off\" selected>"));
    let partial = console.get_htmx("/console/?refresh=30").await;
    assert!(
        partial.html.starts_with("<section id=\"overview\""),
        "{}",
        partial.html
    );
    assert!(partial.html.contains("data-refresh-seconds=\"30\""));
    assert!(!partial.html.contains("<html"));
    assert_eq!(
        console.get("/console/?refresh=1").await.status,
        StatusCode::BAD_REQUEST
    );
    app.stop().await;
}

/// The figure for issue 14's "find any failed job among 1,000,000 finished ones in under a
/// second": run by hand (`cargo test --test it -- --ignored a_failed_job_among`), it prints
/// the server time of the default list and of a payload search.
#[tokio::test]
#[ignore = "a measurement: inserts a million rows"]
async fn a_failed_job_among_a_million_finished_ones_is_found_fast() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    crate::support::console::insert_jobs(&app.state.db, "bench.noop", "Done", 1_000_000).await;
    let id = app.enqueue(&failing("the-needle")).await;
    crate::support::console::insert_failed_jobs(&app.state.db, "test.flaky", 1).await;
    let console = app.console_login(false).await;
    for path in [
        "/console/jobs".to_owned(),
        "/console/jobs?q=the-needle".to_owned(),
        "/console/jobs?q=the-needle&state=any".to_owned(),
        format!("/console/jobs?q={id}&state=any&window=all"),
        "/console/jobs?state=done".to_owned(),
        "/console/".to_owned(),
    ] {
        console.get(&path).await;
        let started = std::time::Instant::now();
        let page = console.get(&path).await;
        let took = started.elapsed();
        assert_eq!(page.status, StatusCode::OK);
        println!("{path}: {} ms", took.as_millis());
    }
    app.stop().await;
}

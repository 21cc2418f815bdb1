//! The console's Partners, Billing, Audit log and Operators screens through the real app:
//! every page and form, validation errors shown with nothing saved, secrets (an API key, a
//! set-password link) shown once, every change audited as `operator:{email}`, a read-only
//! operator's controls disabled with the reason (and a POST anyway refused), CSRF refused, and
//! partner users kept out (404).

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Options, TestApp, portal::Page, portal::PortalClient};

/// The text of the element with this id (`id="secret">…<`).
fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = page
        .html
        .find(&marker)
        .unwrap_or_else(|| panic!("#{id} on the page: {}", page.html))
        + marker.len();
    page.html[at..].split('<').next().unwrap().to_owned()
}

/// Creates a partner through the console's form; the page after it.
async fn create_partner(console: &PortalClient, name: &str, msn: &str) -> Page {
    console
        .submit(
            "/console/partners",
            "/console/partners",
            &[("name", name), ("vipps_msn", msn)],
        )
        .await
}

#[tokio::test]
async fn an_operator_creates_a_partner_sees_its_key_once_and_invites_a_user() {
    let app = TestApp::spawn().await;
    let console = app.console_login(false).await;
    let page = console.get("/console/partners").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("aria-current=\"page\">Partners</a>"));
    assert!(page.html.contains("id=\"no-partners\""));

    // Every bad field at once, what was typed kept, nothing saved.
    let hostile = "<script>alert(1)</script>";
    let refused = create_partner(&console, "", "12ab").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("id=\"name-error\""),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("id=\"vipps_msn-error\""));
    assert!(refused.html.contains("value=\"12ab\""));
    assert!(refused.html.contains("id=\"no-partners\""));
    let refused = create_partner(&console, hostile, "1").await;
    assert!(!refused.html.contains(hostile));
    assert!(refused.html.contains("&#60;script&#62;"));

    // Created: the key is on the page after, once; the list has the partner.
    let made = create_partner(&console, &format!("Hjelp {hostile}"), "654321").await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.html);
    let key = text_of(&made, "secret");
    assert!(key.starts_with("dp_"), "{key}");
    assert!(made.html.contains("id=\"copy-hint\""));
    assert!(!made.html.contains(hostile));
    let (status, _) = app.get("/api/v1/dialogues", &key).await;
    assert_eq!(status, StatusCode::OK, "the key shown works");
    let list = console.get("/console/partners").await;
    assert!(!list.html.contains(&key), "the key is never shown again");
    assert!(!list.html.contains(hostile));
    assert!(list.html.contains("<td>654321</td>"));
    assert!(
        list.html
            .contains("<td class=\"num\" data-stat=\"users\">0</td>")
    );
    let entry = app.audit_entry("partner.create").await;
    assert_eq!(entry["actor"], format!("operator:{}", console.email));
    let partner = entry["target_id"].as_str().unwrap().to_owned();

    // Its page, and a user invited: the one-time link shown once, and it works.
    let path = format!("/console/partners/{partner}");
    let page = console.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("id=\"no-users\""));
    let action = format!("{path}/users");
    let refused = console.submit(&path, &action, &[("email", "nope")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("id=\"email-error\""));
    let invited = console
        .submit(&path, &action, &[("email", "Kari@Example.org")])
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.html);
    let link = text_of(&invited, "secret");
    assert!(link.contains("/portal/set-password/"), "{link}");
    let taken = console
        .submit(&path, &action, &[("email", "kari@example.org")])
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.html.contains("a portal user with this email exists"));
    let page = console.get(&path).await;
    assert!(page.html.contains("kari@example.org"));
    assert!(!page.html.contains(&link));
    let user = app.portal_client();
    let set = user
        .set_password(&link, crate::support::portal::PASSWORD)
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.html);
    let entry = app.audit_entry("portal_user.create").await;
    assert_eq!(entry["actor"], format!("operator:{}", console.email));
    let list = console.get("/console/partners").await;
    assert!(
        list.html
            .contains("<td class=\"num\" data-stat=\"users\">1</td>")
    );

    // A new link for the user; not through another partner's page.
    let relink = format!("{path}/users/link");
    let again = console
        .submit(&path, &relink, &[("email", "kari@example.org")])
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.html);
    let new_link = text_of(&again, "secret");
    assert!(new_link.contains("/portal/set-password/") && new_link != link);
    let entry = app.audit_entry("portal_user.reset_link").await;
    assert_eq!(entry["actor"], format!("operator:{}", console.email));
    let (other, _) = app.partner("Another").await;
    let other_page = format!("/console/partners/{other}");
    let foreign = console
        .submit(
            &other_page,
            &format!("{other_page}/users/link"),
            &[("email", "kari@example.org")],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    // Unknown partners are 404 pages, for GET and POST alike.
    assert_eq!(
        console.get("/console/partners/ptr_nope").await.status,
        StatusCode::NOT_FOUND
    );
    let missing = console
        .submit(
            &path,
            "/console/partners/ptr_nope/users",
            &[("email", "a@b.no")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The row of the runs table whose `data-run` starts with `kind:` (the newest such).
fn run_row(page: &Page, kind: &str) -> String {
    let at = page
        .html
        .find(&format!("<tr data-run=\"{kind}:"))
        .unwrap_or_else(|| panic!("a {kind} run listed: {}", page.html));
    page.html[at..].split("</tr>").next().unwrap().to_owned()
}

#[tokio::test]
async fn billing_runs_now_are_audited_and_their_figures_listed() {
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let console = app.console_login(false).await;
    let page = console.get("/console/billing").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("aria-current=\"page\">Billing</a>"));
    assert!(page.html.contains("id=\"no-runs\""));

    for (kind, action) in [
        ("sweep", "billing.sweep"),
        ("reconcile", "billing.reconcile"),
    ] {
        let done = console
            .submit("/console/billing", &format!("/console/billing/{kind}"), &[])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        assert!(
            done.location()
                .starts_with(&format!("/console/billing?queued={kind}&job="))
        );
        let job = done.location().rsplit('=').next().unwrap().to_owned();
        let entry = app.audit_entry(action).await;
        assert_eq!(entry["actor"], format!("operator:{}", console.email));
        assert_eq!(entry["target_id"], job.as_str());
        let queued = console.get(done.location()).await;
        assert!(
            queued.html.contains(&format!("(job {job})")),
            "{}",
            queued.html
        );
        app.wait_job(&job, "done", Duration::from_secs(10)).await;
        let page = console.get("/console/billing").await;
        let row = run_row(&page, kind);
        assert!(
            row.contains(&format!("href=\"/console/jobs/{job}\">manual-")),
            "{row}"
        );
        assert!(row.contains("data-status=\"done\">done</span>"), "{row}");
        assert!(row.contains("data-stat=\"failed\">0</td>"), "{row}");
    }
    assert_eq!(
        console
            .submit("/console/billing", "/console/billing/refund", &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn a_billing_run_recorded_twice_is_one_row_with_its_latest_outcome() {
    use dialogpay::db::billing_runs::{self, RunKind, RunRecord};
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    let mut run = RunRecord {
        kind: RunKind::Sweep,
        tick: "2027-01-01T06:00",
        job_id: "job-1",
        outcome: Err("vipps down".to_owned()),
        found: 3,
        queued: 1,
        stops: 0,
        attempt: 1,
        started_at: 1_000,
        finished_at: 2_000,
    };
    billing_runs::record(&app.state.db, &run).await.unwrap();
    run.outcome = Ok(());
    run.attempt = 2;
    run.queued = 3;
    billing_runs::record(&app.state.db, &run).await.unwrap();
    billing_runs::record(&app.state.db, &run).await.unwrap();
    let runs = billing_runs::latest(&app.state.db, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let r = &runs[0];
    assert_eq!(
        (r.state.as_str(), r.queued, r.failed_attempts),
        ("done", 3, 1)
    );
    assert_eq!(r.error, None);

    // Kept as long as finished jobs are: maintenance deletes the older runs only.
    let now = app.state.clock.now_ms();
    let retention_ms = i64::try_from(app.state.settings.jobs.retention_hours).unwrap() * 3_600_000;
    let fresh = RunRecord {
        tick: "fresh",
        started_at: now - 1_000,
        finished_at: now,
        ..run.clone()
    };
    billing_runs::record(&app.state.db, &fresh).await.unwrap();
    let report = dialogpay::worker::maintenance::run_pass(
        &app.state.db,
        &dialogpay::worker::maintenance::MaintenanceSettings::from_state(&app.state),
    )
    .await
    .unwrap();
    assert_eq!(report.deleted_billing_runs, 1, "{report:?}");
    let left = billing_runs::latest(&app.state.db, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].tick, "fresh");
    assert!(
        now - retention_ms > 2_000,
        "the first run is older than the retention"
    );
    app.stop().await;
}

/// Writes an audit entry as of `at` (epoch ms).
async fn audit_at(app: &TestApp, actor: &str, action: &str, target: &str, at: i64) {
    let entry = dialogpay::db::audit::NewAudit {
        actor,
        partner_id: None,
        action,
        target_type: "test",
        target_id: target,
        details: Some(serde_json::json!({ "note": "<b>hostile</b>" })),
    };
    dialogpay::db::audit::record(&app.state.db, &entry, at)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_audit_log_filters_by_actor_action_and_oslo_dates_a_page_at_a_time() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Options::manual_billing()
    })
    .await;
    // 15.06.2026 12:00 and 16.06.2026 00:30 in Oslo (10:00 and 22:30 UTC on the 15th).
    let noon = 1_781_517_600_000;
    let after_midnight = noon + 12 * 3_600_000 + 30 * 60_000;
    audit_at(&app, "operator:kari@example.org", "job.retry", "noon", noon).await;
    audit_at(
        &app,
        "operator:ola@example.org",
        "job.cancel",
        "late",
        after_midnight,
    )
    .await;
    for i in 0..55 {
        audit_at(
            &app,
            "operator:cli",
            "partner.create",
            &format!("p{i:02}"),
            noon - 1000,
        )
        .await;
    }
    let console = app.console_login(false).await;
    let page = console.get("/console/audit").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("aria-current=\"page\">Audit log</a>"));
    assert!(!page.html.contains("<b>hostile</b>"));
    // Newest first (the console's own operator.set_password), 50 a page, the cursor keeps the
    // filter.
    assert_eq!(page.html.matches("<tr data-action=").count(), 50);
    assert!(page.html.find("operator.set_password") < page.html.find("partner.create"));
    assert!(!page.html.contains("test late"), "on the next page");
    let filtered = console.get("/console/audit?action=partner.create").await;
    assert_eq!(filtered.html.matches("<tr data-action=").count(), 50);
    let next = filtered.html.split("rel=\"next\"").next().unwrap();
    let next = next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        next.starts_with("/console/audit?action=partner.create&#38;cursor="),
        "{next}"
    );
    let older = console.get(&next.replace("&#38;", "&")).await;
    assert_eq!(
        older
            .html
            .matches("<tr data-action=\"partner.create\"")
            .count(),
        5
    );
    assert!(!older.html.contains("rel=\"next\""));

    // By action (whole or `job.`), by actor, by Oslo dates.
    let count = |html: &str| html.matches("<tr data-action=").count();
    for (query, want, has) in [
        ("action=job.retry", 1, "test noon"),
        ("action=job.", 2, "test late"),
        ("actor=operator:ola@example.org", 1, "test late"),
        ("action=job.&from=2026-06-15&to=2026-06-15", 1, "test noon"),
        ("action=job.&from=2026-06-16", 1, "test late"),
        ("action=job.&to=2026-06-14", 0, "id=\"no-entries\""),
    ] {
        let page = console.get(&format!("/console/audit?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert_eq!(count(&page.html), want, "{query}");
        assert!(page.html.contains(has), "{query}");
    }
    let kept = console
        .get("/console/audit?actor=operator:cli&from=2026-06-15")
        .await;
    assert!(kept.html.contains("value=\"operator:cli\""));
    assert!(kept.html.contains("value=\"2026-06-15\""));
    for bad in [
        "from=15.06.2026",
        "from=2026-06-16&to=2026-06-15",
        "cursor=abc",
    ] {
        let page = console.get(&format!("/console/audit?{bad}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_operator_creates_an_operator_and_gives_them_a_new_link() {
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let console = app.console_login(false).await;
    let page = console.get("/console/operators").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("aria-current=\"page\">Operators</a>"));
    assert!(
        page.html
            .contains(&format!("<tr data-operator=\"{}\">", console.email))
    );
    assert!(page.html.contains("(you)"));

    let refused = console
        .submit(
            "/console/operators",
            "/console/operators",
            &[("email", "not an email")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("id=\"email-error\""));
    assert!(!refused.html.contains("data-operator=\"not an email\""));

    // A read-only one: the link is shown once and sets the password.
    let made = console
        .submit(
            "/console/operators",
            "/console/operators",
            &[("email", "Reader@Example.org"), ("read_only", "yes")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.html);
    assert!(made.html.contains("Read-only: sees everything"));
    let link = text_of(&made, "secret");
    assert!(link.contains("/console/set-password/"), "{link}");
    let taken = console
        .submit(
            "/console/operators",
            "/console/operators",
            &[("email", "reader@example.org")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.html.contains("an operator with this email exists"));
    let entry = app.audit_entry("operator.create").await;
    assert_eq!(entry["actor"], format!("operator:{}", console.email));
    let page = console.get("/console/operators").await;
    assert!(!page.html.contains(&link));
    let reader_row = page
        .html
        .split("<tr data-operator=\"reader@example.org\">")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_owned();
    assert!(reader_row.contains("Read-only"), "{reader_row}");
    assert!(reader_row.contains("Password not set"), "{reader_row}");

    // A new link: the first stops working, the new one logs in.
    let again = console
        .submit(
            "/console/operators",
            "/console/operators/link",
            &[("email", "reader@example.org")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.html);
    let new_link = text_of(&again, "secret");
    assert_ne!(new_link, link);
    let entry = app.audit_entry("operator.reset_link").await;
    assert_eq!(entry["actor"], format!("operator:{}", console.email));
    let reader = app.portal_client();
    let stale = reader.get(&link).await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND, "{}", stale.html);
    let set = reader
        .set_password(&new_link, crate::support::portal::PASSWORD)
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.html);
    let page = console.get("/console/operators").await;
    let reader_row = page
        .html
        .split("<tr data-operator=\"reader@example.org\">")
        .nth(1)
        .unwrap();
    assert!(
        !reader_row
            .split("</tr>")
            .next()
            .unwrap()
            .contains("Password not set")
    );
    let unknown = console
        .submit(
            "/console/operators",
            "/console/operators/link",
            &[("email", "nobody@example.org")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_read_only_operator_sees_every_new_control_disabled_and_is_refused() {
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let (partner, _) = app.partner("Read only target").await;
    app.portal_user(&partner, "member@example.org").await;
    let console = app.console_login(true).await;
    let disabled = "disabled aria-describedby=\"read-only-reason\"";
    let partner_page = format!("/console/partners/{partner}");
    for (path, controls) in [
        (
            "/console/partners",
            &["fieldset", "id=\"create-partner\""][..],
        ),
        (
            partner_page.as_str(),
            &["fieldset", "id=\"invite-user\"", "New link"][..],
        ),
        (
            "/console/billing",
            &["id=\"run-sweep\"", "id=\"run-reconcile\""][..],
        ),
        (
            "/console/operators",
            &["fieldset", "id=\"create-operator\"", "New link"][..],
        ),
    ] {
        let page = console.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.html.contains("id=\"read-only-reason\""), "{path}");
        for control in controls {
            let at = page
                .html
                .find(control)
                .unwrap_or_else(|| panic!("{path}: {control}"));
            let tag_start = page.html[..at].rfind('<').unwrap();
            let tag_end = at + page.html[at..].find('>').unwrap();
            let tag = &page.html[tag_start..tag_end];
            assert!(
                tag.contains(disabled),
                "{path}: {control} not disabled: {tag}"
            );
        }
    }
    // Posting anyway: refused with the reason, nothing changed, nothing audited.
    for (page, action, fields) in [
        (
            "/console/partners",
            "/console/partners",
            vec![("name", "Sneaky"), ("vipps_msn", "1234")],
        ),
        (
            partner_page.as_str(),
            &*format!("{partner_page}/users"),
            vec![("email", "x@example.org")],
        ),
        (
            partner_page.as_str(),
            &*format!("{partner_page}/users/link"),
            vec![("email", "member@example.org")],
        ),
        ("/console/billing", "/console/billing/sweep", vec![]),
        ("/console/billing", "/console/billing/reconcile", vec![]),
        (
            "/console/operators",
            "/console/operators",
            vec![("email", "y@example.org")],
        ),
        (
            "/console/operators",
            "/console/operators/link",
            vec![("email", console.email.as_str())],
        ),
    ] {
        let refused = console.submit(page, action, &fields).await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{action}: {}",
            refused.html
        );
        assert!(
            refused
                .html
                .contains("a read-only operator cannot change anything"),
            "{action}"
        );
    }
    let list = console.get("/console/partners").await;
    assert!(!list.html.contains("Sneaky"));
    let (_, audit) = app
        .get("/api/v1/admin/audit", crate::support::OPERATOR_KEY)
        .await;
    let by_reader = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == format!("operator:{}", console.email))
        .filter(|e| e["action"] != "operator.set_password")
        .count();
    assert_eq!(by_reader, 0, "{audit}");
    app.stop().await;
}

#[tokio::test]
async fn the_new_screens_refuse_posts_without_their_token_and_partner_users() {
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let (partner, _) = app.partner("Outsider").await;
    let console = app.console_login(false).await;
    let posts = [
        "/console/partners".to_owned(),
        format!("/console/partners/{partner}/users"),
        "/console/billing/sweep".to_owned(),
        "/console/billing/reconcile".to_owned(),
        "/console/operators".to_owned(),
        "/console/operators/link".to_owned(),
        format!("/console/partners/{partner}/users/link"),
    ];
    for path in &posts {
        let refused = console
            .post_form(
                path,
                &[
                    ("email", "a@example.org"),
                    ("name", "X"),
                    ("vipps_msn", "1234"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        let wrong = console.post_form(path, &[("csrf_token", "0")]).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, audit) = app
        .get("/api/v1/admin/audit", crate::support::OPERATOR_KEY)
        .await;
    assert!(!audit.to_string().contains("billing.sweep"), "{audit}");

    // The console's error pages lead back into the console; the portal's into the portal.
    for path in ["/console/nope", "/console/partners/ptr_nope"] {
        let missing = console.get(path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            missing
                .html
                .contains("<a href=\"/console/\">Go to the console's start page</a>"),
            "{path}: {}",
            missing.html
        );
    }
    let missing = app.portal_client().get("/portal/nope").await;
    assert!(
        missing
            .html
            .contains("<a href=\"/portal/\">Go to the portal's start page</a>")
    );

    // A partner user's session: no console at all.
    let portal = app.portal_login(&partner).await;
    let token = portal_session(&app, &portal.email).await;
    for path in [
        "/console/partners".to_owned(),
        format!("/console/partners/{partner}"),
        "/console/billing".to_owned(),
        "/console/audit".to_owned(),
        "/console/operators".to_owned(),
    ] {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", app.base))
            .header("cookie", format!("portal_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("href=\"/console/\""),
            "{path}: the console's error page: {html}"
        );
    }
    app.stop().await;
}

/// A fresh portal session token of the user with this email.
async fn portal_session(app: &TestApp, email: &str) -> String {
    let page = app
        .portal_client()
        .log_in(email, crate::support::portal::PASSWORD)
        .await;
    page.set_cookies()
        .iter()
        .find_map(|c| c.strip_prefix("portal_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test]
async fn a_jobs_page_links_the_agreement_it_concerns_and_the_agreement_its_jobs() {
    use crate::portal_list::charity_with_a_member;
    let app = TestApp::spawn().await;
    let (_, key, _, agreement) = charity_with_a_member(&app).await;
    app.run_pending_jobs().await;
    let console = app.console_login(true).await;

    // The agreement's jobs, found by the id in their payloads.
    let list = console
        .get(&format!("/console/jobs?state=any&window=all&q={agreement}"))
        .await;
    let job = list
        .html
        .split("data-job=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a job of {agreement}: {}", list.html))
        .to_owned();
    let page = console.get(&format!("/console/jobs/{job}")).await;
    let object = format!("/console/objects/{agreement}");
    assert!(
        page.html.contains(&format!(
            "<li data-object=\"agreement\">Agreement <a class=\"id-cell\" href=\"{object}\">"
        )),
        "{}",
        page.html
    );

    // The agreement: its partner, dialogue and facts (the phone masked), what it links to.
    let page = console.get(&object).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(text_of(&page, "object-id"), agreement);
    assert_eq!(text_of(&page, "object-partner"), "Charity");
    assert!(
        page.html.contains("<dd data-fact=\"status\">ACTIVE</dd>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<dd data-fact=\"phone\">+47****"),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains(crate::portal_list::PHONE),
        "no full phone number"
    );
    assert!(
        page.html.contains("<li data-object=\"message\">"),
        "{}",
        page.html
    );
    let jobs = format!(
        "href=\"/console/jobs?state=any&#38;window=all&#38;q={agreement}\" id=\"object-jobs\""
    );
    assert!(page.html.contains(&jobs), "{jobs} in {}", page.html);

    // Its first charge links back to it.
    let (_, a) = app
        .get(&format!("/api/v1/agreements/{agreement}"), &key)
        .await;
    let charge = a["charges"][0]["id"].as_str().unwrap();
    let page = console.get(&format!("/console/objects/{charge}")).await;
    assert!(
        page.html.contains("<dd data-fact=\"status\">CHARGED</dd>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(&format!("href=\"{object}\"")),
        "{}",
        page.html
    );
    assert_eq!(
        console.get("/console/objects/agr_nope").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

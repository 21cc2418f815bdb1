//! The partner portal's foundation through the real app: the login and set-password screens,
//! sessions in the database (idle and absolute expiry, logout), CSRF on every form, the login
//! rate limits, HTML error pages, the embedded assets, escaping and tenant isolation.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    OPERATOR_KEY, Options, TestApp,
    portal::{PASSWORD, Page, PortalClient},
};

fn without_workers() -> Options {
    Options {
        workers: false,
        ..Default::default()
    }
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(without_workers()).await
}

/// The `name=value` of a `Set-Cookie` named `name`, with its attributes.
fn set_cookie<'a>(page: &'a Page, name: &str) -> &'a str {
    page.set_cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", page.set_cookies()))
}

fn assert_portal_cookie(cookie: &str) {
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/portal"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "http:// is not Secure: {cookie}"
    );
}

fn assert_login_redirect(page: &Page, next: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), format!("/portal/login?next={next}"));
}

#[tokio::test]
async fn the_login_page_renders_with_its_form_and_cookie() {
    let app = spawn().await;
    let page = app.portal_client().get("/portal/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type().starts_with("text/html"));
    for needle in [
        "<h1>Log in</h1>",
        r#"name="email""#,
        r#"name="password""#,
        r#"type="submit" class="button-primary">Log in</button>"#,
        r#"href="/portal/assets/portal-2.css""#,
        r#"src="/portal/assets/htmx-2.0.11.min.js""#,
    ] {
        assert!(
            page.html.contains(needle),
            "{needle} missing:\n{}",
            page.html
        );
    }
    assert_eq!(page.csrf_token().len(), 64);
    assert_portal_cookie(set_cookie(&page, "portal_csrf"));
    assert_eq!(page.headers["cache-control"], "no-store");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    app.stop().await;
}

#[tokio::test]
async fn assets_are_embedded_with_long_cache_lifetimes() {
    let app = spawn().await;
    let client = app.portal_client();
    for (path, content_type, needle) in [
        (
            "/portal/assets/portal-2.css",
            "text/css",
            "prefers-color-scheme: dark",
        ),
        (
            "/portal/assets/htmx-2.0.11.min.js",
            "text/javascript",
            "htmx",
        ),
    ] {
        let page = client.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.content_type().starts_with(content_type), "{path}");
        assert_eq!(
            page.headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(
            page.set_cookies().is_empty(),
            "a cached asset sets no cookie"
        );
        assert!(page.html.contains(needle), "{path}");
    }
    assert_eq!(
        client.get("/portal/assets/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn a_new_user_sets_a_password_through_the_link_and_sees_the_home_page() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/partners/{partner}/users"),
            OPERATOR_KEY,
            json!({ "email": " Kari@Example.ORG " }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "kari@example.org");
    assert_eq!(body["partner_id"], partner.as_str());
    let link = body["set_password_url"].as_str().unwrap().to_owned();
    let token = link
        .strip_prefix(&format!("{}/portal/set-password/", app.base))
        .expect("the link points at the portal");
    // Only the token's hash is stored.
    let stored: Vec<String> = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar(
        "SELECT token_hash FROM portal_password_links"
    )
    .fetch_all(p)
    .await
    .unwrap());
    assert_eq!(stored.len(), 1);
    assert!(stored[0] != token && stored[0].len() == 64);

    let browser = app.portal_client();
    let form = browser.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("kari@example.org"), "{}", form.html);
    assert!(form.html.contains(">Set password</button>"));
    assert_eq!(form.headers["referrer-policy"], "same-origin");
    // Every problem at once, next to its field; nothing changes.
    let refused = browser
        .submit(
            &link,
            &link,
            &[("password", "short"), ("password_confirm", "other")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(r#"id="password-error""#));
    assert!(refused.html.contains("must be at least 12 characters"));
    assert!(refused.html.contains(r#"id="password_confirm-error""#));
    assert!(
        !refused.html.contains("short"),
        "a password is never echoed"
    );

    let done = browser.set_password(&link, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), "/portal/");
    assert_portal_cookie(set_cookie(&done, "portal_session"));
    let home = browser.get("/portal/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.html);
    assert!(home.html.contains("<h1>Dialogues</h1>"));
    assert!(home.html.contains("Red Cross"));
    assert!(home.html.contains("kari@example.org"));
    assert!(home.html.contains("Your password is set"), "the flash");
    assert!(
        !browser
            .get("/portal/")
            .await
            .html
            .contains("Your password is set"),
        "a flash shows once"
    );
    let hash: String = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar(
        "SELECT password_hash FROM portal_users"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    // The link is single use.
    let again = app.portal_client().get(&link).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.html.contains("This link cannot be used"));
    // And the password logs in.
    let other = app.portal_client();
    let login = other.log_in("KARI@example.org", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.html);
    assert_eq!(other.get("/portal/").await.status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn creating_users_is_validated() {
    let app = spawn().await;
    let (partner, key) = app.partner("Red Cross").await;
    let path = format!("/api/v1/admin/partners/{partner}/users");
    let (status, body) = app
        .post(&path, OPERATOR_KEY, json!({ "email": "no-at-sign" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "email");
    app.portal_user(&partner, "kari@example.org").await;
    let (status, body) = app
        .post(&path, OPERATOR_KEY, json!({ "email": "KARI@example.org" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "email_taken");
    let (status, _) = app
        .post(
            "/api/v1/admin/partners/ptr_nope/users",
            OPERATOR_KEY,
            json!({ "email": "x@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(&path, &key, json!({ "email": "y@example.org" }))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a partner key is no operator key"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_reset_link_replaces_the_unused_ones_and_sets_a_new_password() {
    let app = spawn().await;
    let (partner, key) = app.partner("Red Cross").await;
    let path = format!("/api/v1/admin/partners/{partner}/users");
    let (_, first) = app
        .post(&path, OPERATOR_KEY, json!({ "email": "kari@example.org" }))
        .await;
    let first = first["set_password_url"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            "/api/v1/admin/users/reset-link",
            OPERATOR_KEY,
            json!({ "email": " KARI@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["partner_id"], partner.as_str());
    let second = body["set_password_url"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.portal_client().get(&first).await.status,
        StatusCode::NOT_FOUND,
        "the older unused link stopped working"
    );
    let browser = app.portal_client();
    let done = browser.set_password(&second, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let (_, audit) = app.get("/api/v1/admin/audit?limit=10", OPERATOR_KEY).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"portal_user.reset_link"), "{actions:?}");

    for (body, status) in [
        (
            json!({ "email": "nobody@example.org" }),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({ "email": "no-at-sign" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, answer) = app
            .post("/api/v1/admin/users/reset-link", OPERATOR_KEY, body)
            .await;
        assert_eq!(got, status, "{answer}");
    }
    let (status, _) = app
        .post(
            "/api/v1/admin/users/reset-link",
            &key,
            json!({ "email": "kari@example.org" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "operators only");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_saying_what_was_wrong() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let user = app.portal_login(&partner).await;
    let browser = app.portal_client();
    let wrong = browser.log_in(&user.email, "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("Wrong email or password"));
    assert!(
        wrong.html.contains(&format!(r#"value="{}""#, user.email)),
        "kept"
    );
    let unknown = browser.log_in("nobody@example.org", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.html.contains("Wrong email or password"));
    assert!(set_cookie_absent(&wrong, "portal_session"));
    assert_login_redirect(&browser.get("/portal/").await, "%2Fportal%2F");
    app.stop().await;
}

fn set_cookie_absent(page: &Page, name: &str) -> bool {
    !page
        .set_cookies()
        .iter()
        .any(|c| c.starts_with(&format!("{name}=")))
}

#[tokio::test]
async fn after_login_the_user_comes_back_to_the_page_asked_for() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let user = app.portal_login(&partner).await;
    let browser = app.portal_client();
    let sent = browser.get("/portal/?from=a%20link").await;
    assert_login_redirect(&sent, "%2Fportal%2F%3Ffrom%3Da%2520link");
    let form = browser.get(sent.location()).await;
    assert!(
        form.html
            .contains(r#"name="next" value="/portal/?from=a%20link""#)
    );
    let login = browser
        .submit(
            sent.location(),
            "/portal/login",
            &[
                ("email", &user.email),
                ("password", PASSWORD),
                ("next", "/portal/?from=a%20link"),
            ],
        )
        .await;
    assert_eq!(login.location(), "/portal/?from=a%20link");
    // Never to another site.
    let elsewhere = app
        .portal_client()
        .submit(
            "/portal/login",
            "/portal/login",
            &[
                ("email", &user.email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(elsewhere.location(), "/portal/");
    // htmx requests without a session are told where to go.
    let htmx = app.portal_client().get_htmx("/portal/").await;
    assert_eq!(htmx.status, StatusCode::UNAUTHORIZED);
    assert_eq!(htmx.headers["hx-redirect"], "/portal/login");
    app.stop().await;
}

#[tokio::test]
async fn too_many_refused_logins_answer_429_without_checking_the_password() {
    let app = TestApp::spawn_with(Options {
        overrides: vec![("portal.login_failures_per_address", 8.into())],
        ..without_workers()
    })
    .await;
    let (partner, _) = app.partner("Red Cross").await;
    let user = app.portal_login(&partner).await;
    let browser = app.portal_client();
    for _ in 0..5 {
        let page = browser.log_in(&user.email, "not the password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    // The right password no longer helps: it is not even checked.
    let limited = browser.log_in(&user.email, PASSWORD).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.html
    );
    assert!(
        limited
            .html
            .contains("Too many attempts. Try again in 15 minutes."),
        "{}",
        limited.html
    );
    assert_eq!(limited.headers["retry-after"], "900");
    assert!(set_cookie_absent(&limited, "portal_session"));
    // Per client address too: three more refusals (other emails) reach its limit of 8.
    for n in 0..3 {
        let page = browser
            .log_in(&format!("guess{n}@example.org"), "whatever it is")
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let other = app.portal_login(&partner).await;
    let limited = app.portal_client().log_in(&other.email, PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // The window passes.
    app.state.wall_clock.advance(chrono::Duration::minutes(15));
    let login = browser.log_in(&user.email, PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.html);
    app.stop().await;
}

#[tokio::test]
async fn a_form_without_a_valid_csrf_token_is_refused_with_403() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let user = app.portal_login(&partner).await;
    // No token, a wrong one, another browser's.
    let stranger = app.portal_client();
    let stranger_token = stranger.get("/portal/login").await.csrf_token();
    for token in [None, Some("0".repeat(64)), Some(stranger_token)] {
        let mut fields = vec![];
        if let Some(token) = &token {
            fields.push(("csrf_token", token.as_str()));
        }
        let page = user.post_form("/portal/logout", &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(page.content_type().starts_with("text/html"));
        assert!(page.html.contains("This form has expired"));
    }
    assert_eq!(
        user.get("/portal/").await.status,
        StatusCode::OK,
        "still logged in"
    );
    // A login without one, even from a browser that has the cookie.
    let login = stranger
        .post_form(
            "/portal/login",
            &[("email", &user.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    // The header htmx sends works as the field does.
    let token = user.get("/portal/").await.csrf_token();
    let resp = user
        .http
        .post(format!("{}/portal/logout", app.base))
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_their_absolute_lifetime() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let user = app.portal_login(&partner).await;
    let clock = &app.state.wall_clock;
    // Idle for 20 minutes twice: every use renews the 30 minutes.
    for _ in 0..2 {
        clock.advance(chrono::Duration::minutes(20));
        assert_eq!(user.get("/portal/").await.status, StatusCode::OK);
    }
    clock.advance(chrono::Duration::minutes(31));
    let ended = user.get("/portal/").await;
    assert_login_redirect(&ended, "%2Fportal%2F");
    assert!(set_cookie(&ended, "portal_session").contains("Max-Age=0"));
    let login = user.get(ended.location()).await;
    assert!(login.html.contains("Your session ended"), "{}", login.html);

    // However busy, 12 hours after the login it ends.
    let busy = app.portal_login(&partner).await;
    for _ in 0..(12 * 3 - 1) {
        clock.advance(chrono::Duration::minutes(20));
        assert_eq!(busy.get("/portal/").await.status, StatusCode::OK);
    }
    clock.advance(chrono::Duration::minutes(21));
    assert_login_redirect(&busy.get("/portal/").await, "%2Fportal%2F");
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let link = app.portal_user(&partner, "kari@example.org").await;
    let browser = app.portal_client();
    let done = browser.set_password(&link, PASSWORD).await;
    let cookie = set_cookie(&done, "portal_session")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let out = browser.log_out().await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/portal/login");
    assert!(set_cookie(&out, "portal_session").contains("Max-Age=0"));
    let login = browser.get("/portal/login").await;
    assert!(login.html.contains("You are logged out."));
    assert_login_redirect(&browser.get("/portal/").await, "%2Fportal%2F");
    // The old cookie, replayed by hand, no longer works: the row is gone.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/portal/", app.base))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    let rows: i64 = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM portal_sessions"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(rows, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_user_sees_only_their_own_partner_and_hostile_names_are_escaped() {
    let app = spawn().await;
    let (hostile, _) = app.partner("<script>alert(1)</script>").await;
    let (other, _) = app.partner("Red Cross").await;
    let hostile_user = app.portal_login(&hostile).await;
    let home = hostile_user.get("/portal/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        !home.html.contains("<script>alert(1)</script>"),
        "{}",
        home.html
    );
    assert!(
        home.html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(!home.html.contains("Red Cross"));
    let other_user = app.portal_login(&other).await;
    let home = other_user.get("/portal/").await;
    assert!(home.html.contains("Red Cross"));
    assert!(!home.html.contains("alert(1)"), "{}", home.html);
    app.stop().await;
}

#[tokio::test]
async fn portal_errors_are_html_pages_and_api_errors_stay_json() {
    let app = spawn().await;
    let client = app.portal_client();
    let missing = client.get("/portal/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.content_type().starts_with("text/html"));
    assert!(missing.html.contains("Page not found"));
    let wrong_method = client.post_form("/portal/assets/portal-2.css", &[]).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    let unusable = client.get("/portal/set-password/not-a-token").await;
    assert_eq!(unusable.status, StatusCode::NOT_FOUND);
    assert!(unusable.html.contains("This link cannot be used"));
    let (status, body) = app.get("/api/v1/nope", OPERATOR_KEY).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    app.stop().await;
}

/// A page at `/portal` without the slash is the home page too.
#[tokio::test]
async fn the_portal_root_without_a_slash_is_home() {
    let app = spawn().await;
    let (partner, _) = app.partner("Red Cross").await;
    let user: PortalClient = app.portal_login(&partner).await;
    let home = user.get("/portal").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.html.contains("<h1>Dialogues</h1>"));
    app.stop().await;
}

/// Behind https (the public address), every portal cookie is `Secure`.
#[tokio::test]
async fn cookies_are_secure_when_the_public_address_is_https() {
    let app = TestApp::spawn_with(Options {
        overrides: vec![("server.public_base_url", "https://pay.example.org".into())],
        ..without_workers()
    })
    .await;
    let page = app.portal_client().get("/portal/login").await;
    let cookie = set_cookie(&page, "portal_csrf");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    app.stop().await;
}

//! Portal helpers: a browser-like client (keeps cookies, follows no redirects so tests see the
//! 303s), pages as status + headers + HTML, the CSRF token read from a page, and
//! [`TestApp::portal_login`]: a logged-in client for a new user of a partner.

use reqwest::{StatusCode, header::HeaderMap};
use serde_json::json;

use super::{OPERATOR_KEY, TestApp};

/// A password that meets the rules.
pub const PASSWORD: &str = "correct horse battery";

/// One answer of the portal.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the first `csrf_token` field on the page.
    pub fn csrf_token(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let at = self
            .html
            .find(marker)
            .expect("the page has a csrf_token field")
            + marker.len();
        self.html[at..].split('"').next().unwrap().to_owned()
    }

    /// Every `Set-Cookie` header, as sent.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A browser: one cookie store.
#[derive(Clone)]
pub struct PortalClient {
    pub http: reqwest::Client,
    pub base: String,
    /// The user's email, when logged in by [`TestApp::portal_login`].
    pub email: String,
}

impl PortalClient {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            base: base.to_owned(),
            email: String::new(),
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            html: resp.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// A GET as htmx sends it (`HX-Request: true`).
    pub async fn get_htmx(&self, path: &str) -> Page {
        let req = self.http.get(self.url(path)).header("HX-Request", "true");
        Self::page(req.send().await.unwrap()).await
    }

    /// POSTs a form as it is (add `csrf_token` yourself, or use [`PortalClient::submit`]).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.url(path)).form(fields);
        Self::page(req.send().await.unwrap()).await
    }

    /// Opens `form_page`, then POSTs `fields` and its CSRF token to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(form_page).await.csrf_token();
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(action, &all).await
    }

    /// Logs in through the form.
    pub async fn log_in(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/portal/login",
            "/portal/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Sets the password through a one-time link (which logs in).
    pub async fn set_password(&self, link: &str, password: &str) -> Page {
        self.submit(
            link,
            link,
            &[("password", password), ("password_confirm", password)],
        )
        .await
    }

    pub async fn log_out(&self) -> Page {
        self.submit("/portal/", "/portal/logout", &[]).await
    }
}

impl TestApp {
    /// Creates a portal user of `partner_id` through the admin API; its set-password link.
    pub async fn portal_user(&self, partner_id: &str, email: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/api/v1/admin/partners/{partner_id}/users"),
                OPERATOR_KEY,
                json!({ "email": email }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["set_password_url"].as_str().unwrap().to_owned()
    }

    /// A browser logged in as a new user of `partner_id` (password [`PASSWORD`]), through the
    /// one-time link as a user would.
    pub async fn portal_login(&self, partner_id: &str) -> PortalClient {
        let email = format!("user-{}@example.org", ulid::Ulid::new()).to_lowercase();
        let link = self.portal_user(partner_id, &email).await;
        let mut client = PortalClient::new(&self.base);
        let page = client.set_password(&link, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        client.email = email;
        client
    }

    /// A browser with no cookies yet.
    pub fn portal_client(&self) -> PortalClient {
        PortalClient::new(&self.base)
    }
}

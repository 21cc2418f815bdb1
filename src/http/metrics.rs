//! `GET /metrics` (Prometheus text format) and the middleware that counts our HTTP requests.
//!
//! Requests are labelled with the route template that matched (`/api/v1/dialogues/:id`),
//! never the raw path, so ids and phone numbers never become labels; paths no route matched
//! share the one label [`UNMATCHED`].

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{Arc, Mutex},
    time::Instant,
};

use poem::{
    Endpoint, IntoResponse, PathPattern, Request, Response, handler,
    http::{Method, StatusCode},
    web::Data,
};

use crate::{db, monitoring, state::AppState};

/// The route label of requests no route matched (404s from routing).
pub const UNMATCHED: &str = "unmatched";

/// `GET /metrics`: the recorded series plus job counts by queue and status and the number of
/// parked delivery reports, read now.
#[handler]
pub async fn metrics(state: Data<&AppState>) -> Response {
    let mut body = monitoring::render();
    match db::jobs::counts(&state.db).await {
        Ok(counts) => write_job_counts(&mut body, &counts),
        // The other series matter most when the database is in trouble: serve them anyway.
        Err(err) => tracing::warn!(error = %err, "metrics: could not count jobs"),
    }
    match db::parked_reports::count(&state.db).await {
        Ok(n) => write_parked_reports(&mut body, n),
        Err(err) => tracing::warn!(error = %err, "metrics: could not count parked reports"),
    }
    body.into_response()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}

const STATUSES: [&str; 6] = db::jobs::JobStatus::NAMES;

/// Every status of every queue that has rows, zeros included, so a status that empties out
/// drops to 0 instead of vanishing.
fn write_job_counts(out: &mut String, counts: &[(String, String, i64)]) {
    let name = monitoring::names::JOBS;
    let _ = writeln!(
        out,
        "# HELP {name} Jobs in the queue tables by queue and status (pending: due now; scheduled: waiting for its run_at, a retry's backoff or a snooze; failed: no attempts left; killed: cancelled)"
    );
    let _ = writeln!(out, "# TYPE {name} gauge");
    let mut queues: Vec<&str> = counts.iter().map(|(q, _, _)| q.as_str()).collect();
    queues.dedup();
    for queue in queues {
        for status in STATUSES {
            let n: i64 = counts
                .iter()
                .filter(|(q, s, _)| q == queue && s == status)
                .map(|(_, _, n)| n)
                .sum();
            let _ = writeln!(
                out,
                "{name}{{queue=\"{}\",status=\"{status}\"}} {n}",
                escape_label(queue)
            );
        }
    }
}

fn write_parked_reports(out: &mut String, n: i64) {
    let name = monitoring::names::SMS_PARKED_REPORTS;
    let _ = writeln!(
        out,
        "# HELP {name} Delivery reports waiting for their send to be recorded (deleted after sms.unmatched_report_retention_hours)"
    );
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {n}");
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Where the innermost middleware leaves the matched route template for the outermost one.
#[derive(Clone, Default)]
struct MatchedRoute(Arc<Mutex<Option<Arc<str>>>>);

/// Outermost middleware: times the request and counts it with its final status (after error
/// normalisation, size limits and caught panics).
pub async fn measure<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = method_label(req.method());
    let matched = MatchedRoute::default();
    req.set_data(matched.clone());
    let result = next.call(req).await.map(IntoResponse::into_response);
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(err) => err.status(),
    };
    let route = matched
        .0
        .lock()
        .ok()
        .and_then(|m| m.clone())
        .map(|r| r.to_string())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    monitoring::http_request(method, route, status.as_u16(), started.elapsed());
    result
}

/// poem-openapi routes `/api/v1/dialogues/{id}` as `/api/v1/dialogues/:param0`; this maps
/// such patterns back to the documented names (`/api/v1/dialogues/:id`).
#[derive(Clone, Default)]
pub struct RouteNames(Arc<HashMap<String, String>>);

impl RouteNames {
    /// From the OpenAPI document (JSON) of the service.
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let names = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .keys()
                    .map(|path| (routed_as(path), documented(path)))
                    .collect()
            })
            .unwrap_or_default();
        Self(Arc::new(names))
    }

    fn name(&self, pattern: &str) -> String {
        self.0
            .get(pattern)
            .cloned()
            .unwrap_or_else(|| pattern.to_owned())
    }
}

/// `/a/{x}/b/{y}` → `/a/:param0/b/:param1`, the way poem-openapi registers it.
fn routed_as(path: &str) -> String {
    let mut n = 0;
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                n += 1;
                format!(":param{}", n - 1)
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `/a/{x}` → `/a/:x`, like our other route templates.
fn documented(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Innermost middleware (directly around the routes): reads the template poem's router
/// matched and hands it to [`measure`].
pub async fn capture_route<E: Endpoint>(
    next: E,
    req: Request,
    names: RouteNames,
) -> poem::Result<Response> {
    let matched = req.data::<MatchedRoute>().cloned();
    let result = next.call(req).await.map(IntoResponse::into_response);
    if let Some(matched) = matched {
        let (pattern, status) = match &result {
            Ok(resp) => (resp.data::<PathPattern>(), resp.status()),
            Err(err) => (err.data::<PathPattern>(), err.status()),
        };
        let route = pattern
            .and_then(|p| route_label(&p.0, status))
            .map(|p| names.name(&p));
        if let Ok(mut slot) = matched.0.lock() {
            *slot = route.map(Arc::from);
        }
    }
    result
}

/// The label for a matched template, or `None` (unmatched) for the catch-all patterns of
/// nested services, which match any path below them.
fn route_label(pattern: &str, status: StatusCode) -> Option<String> {
    let catch_all = pattern.is_empty() || pattern.ends_with('/') || pattern.contains('*');
    if catch_all && status == StatusCode::NOT_FOUND {
        return None;
    }
    Some(if pattern.is_empty() {
        "/".to_owned()
    } else {
        pattern.to_owned()
    })
}

/// Standard methods by name; anything else is `other`, so a client cannot mint labels.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_counts_fill_in_zeros() {
        let mut out = String::new();
        write_job_counts(
            &mut out,
            &[
                ("sms.send".into(), "done".into(), 3),
                ("sms.send".into(), "pending".into(), 1),
            ],
        );
        assert!(out.contains("dialogpay_jobs{queue=\"sms.send\",status=\"done\"} 3\n"));
        assert!(out.contains("dialogpay_jobs{queue=\"sms.send\",status=\"pending\"} 1\n"));
        assert!(out.contains("dialogpay_jobs{queue=\"sms.send\",status=\"failed\"} 0\n"));
        assert_eq!(out.matches("dialogpay_jobs{").count(), 6);
    }

    #[test]
    fn openapi_templates_get_their_documented_names() {
        let names = RouteNames::from_spec(
            r#"{"paths": {"/api/v1/dialogues/{id}/stats": {}, "/healthz": {}}}"#,
        );
        assert_eq!(
            names.name("/api/v1/dialogues/:param0/stats"),
            "/api/v1/dialogues/:id/stats"
        );
        assert_eq!(names.name("/healthz"), "/healthz");
        assert_eq!(names.name("/my/agreements/:token"), "/my/agreements/:token");
    }

    #[test]
    fn unknown_methods_share_a_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}

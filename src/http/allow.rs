//! `Allow` on 405 answers (RFC 9110 §15.5.6: a 405 MUST list the methods the resource
//! supports). poem's router answers 405 without it, so this middleware looks the path up in a
//! table built from the OpenAPI document plus our plain poem routes.

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};

/// Path templates (`/api/v1/dialogues/{id}`) and the methods each one answers.
#[derive(Debug, Default, Clone)]
pub struct MethodTable {
    routes: Vec<(Vec<Segment>, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_matches('/')
        .split('/')
        .map(|s| {
            if (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':') {
                Segment::Param
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

impl MethodTable {
    /// Every path and method of an OpenAPI document (the JSON of `OpenApiService::spec`).
    pub fn from_openapi(spec_json: &str) -> Self {
        let mut table = Self::default();
        let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
        if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, ops) in paths {
                let methods = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>())
                    .unwrap_or_default();
                for method in methods {
                    table = table.with(path, &method);
                }
            }
        }
        table
    }

    /// Adds one route (`{name}` or `:name` for a path parameter).
    #[must_use]
    pub fn with(mut self, template: &str, method: &str) -> Self {
        let segs = segments(template);
        let method = method.to_ascii_uppercase();
        match self.routes.iter_mut().find(|(s, _)| *s == segs) {
            Some((_, methods)) if !methods.contains(&method) => methods.push(method),
            Some(_) => {}
            None => self.routes.push((segs, vec![method])),
        }
        self
    }

    /// The `Allow` value for a request path, `None` when no route has that path. GET implies
    /// HEAD (poem answers HEAD for every GET route).
    pub fn allow(&self, path: &str) -> Option<String> {
        let given: Vec<&str> = path.trim_matches('/').split('/').collect();
        // Like the router, a literal segment wins over a parameter.
        let (_, methods) = self
            .routes
            .iter()
            .filter(|(segs, _)| {
                segs.len() == given.len()
                    && segs.iter().zip(&given).all(|(s, g)| match s {
                        Segment::Param => !g.is_empty(),
                        Segment::Literal(l) => l == g,
                    })
            })
            .max_by_key(|(segs, _)| {
                segs.iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })?;
        let mut all = methods.clone();
        if all.iter().any(|m| m == "GET") && !all.iter().any(|m| m == "HEAD") {
            all.push("HEAD".to_owned());
        }
        Some(all.join(", "))
    }
}

/// Middleware function for `Route::around`: adds `Allow` to 405 answers.
pub async fn add_allow<E: Endpoint>(
    next: E,
    req: Request,
    table: Arc<MethodTable>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::ALLOW)
        && let Some(allow) = table.allow(&path)
        && let Ok(value) = HeaderValue::from_str(&allow)
    {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_and_adds_head_to_get() {
        let table = MethodTable::default()
            .with("/api/v1/dialogues/{id}", "get")
            .with("/api/v1/dialogues/{id}", "put")
            .with("/api/v1/dialogues/{id}", "delete")
            .with("/webhooks/vipps", "POST")
            .with("/my/agreements/:token", "GET");
        assert_eq!(
            table.allow("/api/v1/dialogues/dlg_1").as_deref(),
            Some("GET, PUT, DELETE, HEAD")
        );
        assert_eq!(table.allow("/webhooks/vipps").as_deref(), Some("POST"));
        assert_eq!(
            table.allow("/my/agreements/abc").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(table.allow("/api/v1/dialogues//"), None);
        assert_eq!(table.allow("/nope"), None);
    }

    #[test]
    fn reads_the_openapi_document() {
        let spec = r#"{"paths": {"/healthz": {"get": {}}, "/api/v1/x/{id}/stop": {"post": {}}}}"#;
        let table = MethodTable::from_openapi(spec);
        assert_eq!(table.allow("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(table.allow("/api/v1/x/7/stop").as_deref(), Some("POST"));
    }
}

//! The portal's static files, embedded in the binary and served at
//! `/portal/assets/{versioned name}` with a year-long `immutable` cache: a changed file gets a
//! new name (`portal-2.css`, `htmx-2.0.12.min.js`), so no cache ever serves a stale one.

use poem::{
    Response, Route, handler,
    http::{StatusCode, header},
    web::Path,
};

/// URLs of the assets, for templates.
pub const STYLESHEET: &str = "/portal/assets/portal-2.css";
pub const HTMX: &str = "/portal/assets/htmx-2.0.11.min.js";
pub const SCRIPT: &str = "/portal/assets/portal-2.js";
/// The "Try it" screen's phone (only that page loads it).
pub const TRY_STYLESHEET: &str = "/portal/assets/try-it-1.css";

/// (file name, content type, bytes) of every asset.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "portal-2.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/portal-2.css"),
    ),
    (
        "try-it-1.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/try-it-1.css"),
    ),
    (
        "portal-2.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/portal-2.js"),
    ),
    (
        "htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/htmx-2.0.11.min.js"),
    ),
];

pub fn routes() -> Route {
    Route::new().at("/:name", poem::get(asset))
}

#[handler]
fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, bytes)) => Response::builder()
            .header(header::CONTENT_TYPE, *content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(*bytes),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body("no such asset"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_urls_name_embedded_files() {
        for url in [STYLESHEET, TRY_STYLESHEET, HTMX, SCRIPT] {
            let name = url.trim_start_matches("/portal/assets/");
            assert!(ASSETS.iter().any(|(file, _, _)| *file == name), "{url}");
        }
    }
}

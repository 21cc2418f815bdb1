//! A CSV export as the browser downloads it: `text/csv`, a file name, the rows streamed as the
//! service produces them (an error midway ends the download, logged by the server).

use poem::{Body, Response, http::header};

use crate::service::export::CsvStream;

/// `rows` as an attachment named `filename`.
pub fn csv(filename: &str, rows: CsvStream) -> Response {
    let body = Body::from_bytes_stream(futures::TryStreamExt::map_err(rows, |e| {
        std::io::Error::other(e.to_string())
    }));
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .body(body)
}

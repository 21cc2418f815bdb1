//! `/api/v1/dialogues` (in progress).

use poem_openapi::OpenApi;

pub struct DialoguesApi;

#[OpenApi(prefix_path = "/api/v1")]
impl DialoguesApi {}

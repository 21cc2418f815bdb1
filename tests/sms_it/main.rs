//! Integration tests of the SMS gateway layer: each provider against the fake gateway over real
//! HTTP on 127.0.0.1:0 (success, retryable and permanent failures, auth, LINK body fields), the
//! inbound parsers on what the fake builds, and delivery-report part combination.

mod generic_http;
mod inbound;
mod link;
mod outbox;
mod support;

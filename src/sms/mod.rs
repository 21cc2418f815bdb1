//! SMS gateways: sending ([`SmsGateway`] with the `outbox`, `http` and `link` providers),
//! reading what gateways post to us ([`inbound`], [`link::inbound`]), authenticating those
//! posts ([`auth`]), delivery statuses ([`status`]), and a fake gateway for tests and the demo
//! ([`fake`]). Text encoding and segments come from [`crate::domain::sms_text`].
//!
//! | module | what |
//! |---|---|
//! | [`settings`] | the `[sms]` configuration section |
//! | [`gateway`] | [`OutboundSms`], [`SendReceipt`], [`SmsGateway`] |
//! | [`error`] | [`SmsError`] with `is_retryable()` / `retry_after()` |
//! | [`outbox`], [`http`], [`link`] | the three providers |
//! | [`inbound`] | [`InboundSms`], [`DeliveryReport`], generic parsers |
//! | [`status`] | [`DeliveryStatus`], forward-only `merge`, [`combine_parts`] |
//! | [`auth`] | [`check_bearer`], [`check_basic`] |
//! | [`fake`] | [`fake::FakeGateway`], a real HTTP server speaking both protocols |
//!
//! # Duplicates after a crash between "sent" and "recorded"
//!
//! The send job records "sending" before the call and the gateway id after it. If the process
//! dies in between (or the call times out), the job runs again with the same `message_id`:
//!
//! - **outbox**: no duplicate is possible; nothing leaves the process.
//! - **http**: our `message_id` is in the body (and the `Idempotency-Key` header); a
//!   well-behaved gateway treats it as an idempotency key and answers the repeat with the first
//!   send's id without sending again: exactly once. ([`fake::FakeGateway`] does this.)
//! - **link**: LINK mirrors `refId` in delivery reports but does not deduplicate on it, so the
//!   resend may reach the phone twice: at-least-once. Nothing better is available on that API;
//!   the DLR's `refId` still ties reports to our message.
//!
//! [`SmsError::may_have_been_sent`] tells which failures certainly sent nothing (connection
//! refused, configuration, invalid message) and [`SmsGateway::dedupes_resends`] which
//! providers make a resend safe.

pub mod auth;
pub mod error;
pub mod fake;
pub mod gateway;
pub mod http;
pub mod inbound;
pub mod link;
pub mod outbox;
pub mod settings;
pub mod status;

pub use auth::{check_basic, check_bearer};
pub use error::SmsError;
pub use gateway::{OutboundSms, SendReceipt, SmsGateway};
pub use inbound::{
    DeliveryReport, InboundError, InboundSms, parse_generic_inbound, parse_generic_inbound_at,
    parse_generic_status,
};
pub use link::{parse_link_dlr, parse_link_mo, parse_link_mo_at};
pub use settings::{
    HttpGatewaySettings, LinkSettings, QuietHoursSetting, SmsProvider, SmsSettings,
};
pub use status::{DeliveryStatus, combine_parts};

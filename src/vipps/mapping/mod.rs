//! The one place where our values become Vipps's and Vipps's become ours:
//! - [`draft`] — one of our PENDING agreements on its dialogue's terms as the draft request
//!   ([`DraftInput`] → [`wire::DraftAgreementRequest`]), and our periods as Vipps's interval
//!   units;
//! - [`charge`] — one period's charge as the create request and as an item of the batch
//!   endpoint ([`ChargeInput`] → [`wire::CreateChargeRequest`] / [`wire::BatchChargeItem`]);
//! - [`status`] — Vipps's agreement and charge statuses and stop actors as ours (`TryFrom`: a
//!   value Vipps adds later is an error naming it, never a default).
//!
//! The handlers gather the inputs from our rows and send what these conversions return; no
//! request body is written anywhere else.
//!
//! [`wire::DraftAgreementRequest`]: super::wire::DraftAgreementRequest
//! [`wire::CreateChargeRequest`]: super::wire::CreateChargeRequest
//! [`wire::BatchChargeItem`]: super::wire::BatchChargeItem

pub mod charge;
pub mod draft;
pub mod status;

pub use charge::ChargeInput;
pub use draft::DraftInput;

/// At most `max` characters (Vipps counts characters, not bytes).
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

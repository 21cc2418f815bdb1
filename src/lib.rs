//! dialogpay
pub mod vipps;

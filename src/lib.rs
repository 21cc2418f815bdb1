//! dialogpay: Vipps recurring payments sold through SMS keyword dialogues.
//!
//! `domain` holds pure rules, `db` the SQL, `vipps` and `sms` the external systems, `delivery`
//! where SMS delivery reports meet their messages, `worker` the durable jobs, `http` the API, `portal` the partners' web pages,
//! `console` the operators';
//! `app` wires them for the binary and the tests.

pub mod app;
pub mod bench;
pub mod clock;
pub mod config;
pub mod console;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod http;
#[cfg(test)]
mod layers;
pub mod monitoring;
pub mod portal;
pub mod preflight;
pub mod service;
pub mod sms;
pub mod state;
pub mod telemetry;
pub mod vipps;
pub mod worker;

//! Integration tests of the Vipps client against the simulator (real HTTP on 127.0.0.1:0),
//! the simulator's rules, webhook delivery, and request bodies against the official spec.

mod client;
mod fixture_server;
mod fixtures;
mod refunds;
mod sim_rules;
mod spec;
mod support;
mod ticking_clock;
mod webhooks;

//! The integration test binary: real HTTP, real workers, a fresh database per test (SQLite by
//! default, PostgreSQL when `TEST_DATABASE_URL` is set). The same tests run on both.

mod support;

mod billing;
mod console;
mod console_screens;
mod crash;
mod crm;
mod dialogues;
mod export_memory;
mod faults;
mod gateway;
mod http_basics;
mod job_attempts;
mod jobs;
mod journey;
mod logs;
mod metrics;
mod notices;
mod openapi;
mod partner_webhooks;
mod partners;
mod pauses;
mod portal;
mod portal_crm;
mod portal_dialogue_page;
mod portal_form;
mod portal_list;
mod portal_messages;
mod portal_try_it;
mod refunds;
mod scheduler;
mod schema_parity;
mod split;
mod startup;
mod stats;
mod typed_rows;
mod webhook_fuzz;

//! Pure types and rules: money, keywords and what a keyword SMS leads to, senders, SMS text
//! encoding, periods, the dialogue form, the receipts and failed-payment notices it may send and
//! the quiet hours they wait out, pauses, the events partners' systems subscribe to and how
//! their webhooks are signed, and the statuses of agreements and charges with their forward-only rules. No I/O;
//! everything here is unit-tested beside the code.

pub mod confirmation;
pub mod dialogue;
pub mod keyword;
pub mod keyword_decision;
pub mod money;
pub mod msisdn;
pub mod notices;
pub mod partner_events;
pub mod pause;
pub mod period;
pub mod quiet_hours;
pub mod replies;
pub mod sender;
pub mod sms_text;
pub mod standard_webhooks;
pub mod status;
pub mod text_enum;

//! What a keyword SMS leads to, decided from what the database knows and nothing else: the
//! handler loads the [`KeywordFacts`], [`decide`] says what to do ([`KeywordDecision`]), and
//! the handler does it (records the outcome, queues the reply, drafts the agreement).
//!
//! The rules, in order: no dialogue holds the keyword on the number → unknown keyword; the
//! dialogue is not running today (or is not recurring) → "not live" reply; the phone is
//! already a member → "already a member" reply; a draft younger than Vipps's ten minutes is
//! pending → its link again (never a second draft), or nothing while the draft job has not
//! got the link yet; otherwise → a new agreement and its draft.

use chrono::NaiveDate;

use super::{
    confirmation::{ConfirmationUrl, LinkError, link_reply},
    replies,
    status::{AgreementStatus, InboundOutcome, ReplyPurpose},
};

/// How long Vipps keeps a draft PENDING before it expires.
pub const DRAFT_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// The dialogue holding the keyword on the number the message was sent to (the one live
/// today, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordDialogue<'a> {
    pub keyword: &'a str,
    /// The number it is sent from (named in the "already a member" reply).
    pub sender: &'a str,
    pub recurring: bool,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The partner's reply with its link placeholder.
    pub reply_message: &'a str,
}

impl KeywordDialogue<'_> {
    /// Running on `today` (both ends included) and recurring.
    pub fn is_live(&self, today: NaiveDate) -> bool {
        self.recurring && self.start_date <= today && today <= self.end_date
    }
}

/// The sender's newest PENDING or ACTIVE agreement on that dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAgreement<'a> {
    pub id: &'a str,
    pub status: AgreementStatus,
    pub created_at_ms: i64,
    /// The stored Vipps confirmation link (none until the draft job has it).
    pub confirmation_url: Option<&'a str>,
}

/// What the database knows when a keyword arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordFacts<'a> {
    /// Today in Norway.
    pub today: NaiveDate,
    pub now_ms: i64,
    /// `None`: no dialogue holds the keyword on this number.
    pub dialogue: Option<KeywordDialogue<'a>>,
    /// Only looked at with a live dialogue.
    pub open_agreement: Option<OpenAgreement<'a>>,
}

/// What to do with a keyword SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeywordDecision<'a> {
    /// Record that no dialogue matched; no reply.
    UnknownKeyword,
    /// Reply that the dialogue is not running now.
    NotLive { reply: String },
    /// Reply that the phone already has an ACTIVE agreement.
    AlreadyMember {
        agreement_id: &'a str,
        reply: String,
    },
    /// Send the pending draft's link again.
    ResendLink {
        agreement_id: &'a str,
        reply: String,
    },
    /// A draft is pending without a link we can send: the draft job sends it (or fails for
    /// good). `unusable_link` is why a stored link was not re-sent, for the log.
    AwaitDraft {
        agreement_id: &'a str,
        unusable_link: Option<LinkError>,
    },
    /// Create a PENDING agreement and queue its draft.
    DraftAgreement,
}

/// The rules of the module doc, over `facts`.
pub fn decide<'a>(facts: &KeywordFacts<'a>) -> KeywordDecision<'a> {
    let Some(d) = &facts.dialogue else {
        return KeywordDecision::UnknownKeyword;
    };
    if !d.is_live(facts.today) {
        return KeywordDecision::NotLive {
            reply: replies::not_live(d.keyword),
        };
    }
    match &facts.open_agreement {
        Some(a) if a.status == AgreementStatus::Active => KeywordDecision::AlreadyMember {
            agreement_id: a.id,
            reply: replies::already_member(d.keyword, d.sender),
        },
        Some(a) if facts.now_ms - a.created_at_ms < DRAFT_LIFETIME_MS => {
            // A stored link that is not one is never sent.
            let reply = a.confirmation_url.map(|url| {
                ConfirmationUrl::parse(Some(url)).and_then(|url| link_reply(d.reply_message, &url))
            });
            match reply {
                Some(Ok(reply)) => KeywordDecision::ResendLink {
                    agreement_id: a.id,
                    reply,
                },
                Some(Err(e)) => KeywordDecision::AwaitDraft {
                    agreement_id: a.id,
                    unusable_link: Some(e),
                },
                None => KeywordDecision::AwaitDraft {
                    agreement_id: a.id,
                    unusable_link: None,
                },
            }
        }
        // Nothing open, or a draft older than Vipps's ten minutes (polling will expire it).
        _ => KeywordDecision::DraftAgreement,
    }
}

impl<'a> KeywordDecision<'a> {
    /// What the inbound message is recorded as having led to.
    pub fn outcome(&self) -> InboundOutcome {
        match self {
            Self::UnknownKeyword => InboundOutcome::UnknownKeyword,
            Self::NotLive { .. } => InboundOutcome::NotLive,
            Self::AlreadyMember { .. } => InboundOutcome::AlreadyMember,
            Self::ResendLink { .. } => InboundOutcome::LinkResent,
            Self::AwaitDraft { .. } => InboundOutcome::DraftInProgress,
            Self::DraftAgreement => InboundOutcome::AgreementDrafted,
        }
    }

    /// The reply to queue, with why it is sent.
    pub fn reply(&self) -> Option<(ReplyPurpose, &str)> {
        match self {
            Self::NotLive { reply } => Some((ReplyPurpose::NotLive, reply)),
            Self::AlreadyMember { reply, .. } => Some((ReplyPurpose::AlreadyMember, reply)),
            Self::ResendLink { reply, .. } => Some((ReplyPurpose::VippsLink, reply)),
            Self::UnknownKeyword | Self::AwaitDraft { .. } | Self::DraftAgreement => None,
        }
    }

    /// The existing agreement the message and its reply are about.
    pub fn agreement_id(&self) -> Option<&'a str> {
        match self {
            Self::AlreadyMember { agreement_id, .. }
            | Self::ResendLink { agreement_id, .. }
            | Self::AwaitDraft { agreement_id, .. } => Some(agreement_id),
            Self::UnknownKeyword | Self::NotLive { .. } | Self::DraftAgreement => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const MINUTE: i64 = 60_000;
    const REPLY: &str = "Takk! {vipps_link} Send STOPP for å avslutte";
    const LINK: &str = "https://vipps.no/c/1";

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, d).unwrap()
    }

    /// GIVE on 2222, recurring, running 10–20 March.
    fn give() -> KeywordDialogue<'static> {
        KeywordDialogue {
            keyword: "GIVE",
            sender: "2222",
            recurring: true,
            start_date: day(10),
            end_date: day(20),
            reply_message: REPLY,
        }
    }

    fn agreement(
        status: AgreementStatus,
        age_minutes: i64,
        url: Option<&'static str>,
    ) -> OpenAgreement<'static> {
        OpenAgreement {
            id: "agr_1",
            status,
            created_at_ms: NOW - age_minutes * MINUTE,
            confirmation_url: url,
        }
    }

    use AgreementStatus::{Active, Pending};

    fn not_live() -> KeywordDecision<'static> {
        KeywordDecision::NotLive {
            reply: replies::not_live("GIVE"),
        }
    }

    fn already_member() -> KeywordDecision<'static> {
        KeywordDecision::AlreadyMember {
            agreement_id: "agr_1",
            reply: replies::already_member("GIVE", "2222"),
        }
    }

    fn await_draft(unusable_link: Option<LinkError>) -> KeywordDecision<'static> {
        KeywordDecision::AwaitDraft {
            agreement_id: "agr_1",
            unusable_link,
        }
    }

    /// One row: the case, today's day of March 2027, the dialogue, the open agreement, and
    /// the decision expected.
    type Case = (
        &'static str,
        u32,
        Option<KeywordDialogue<'static>>,
        Option<OpenAgreement<'static>>,
        KeywordDecision<'static>,
    );

    #[test]
    fn each_case_decides_as_the_rules_say() {
        let resend = KeywordDecision::ResendLink {
            agreement_id: "agr_1",
            reply: format!("Takk! {LINK} Send STOPP for å avslutte"),
        };
        let not_recurring = KeywordDialogue {
            recurring: false,
            ..give()
        };
        let no_placeholder = KeywordDialogue {
            reply_message: "Takk!",
            ..give()
        };
        let fresh_pending = Some(agreement(Pending, 2, Some(LINK)));
        #[rustfmt::skip]
        let rows: Vec<Case> = vec![
            ("no dialogue", 15, None, None, KeywordDecision::UnknownKeyword),
            ("not recurring", 15, Some(not_recurring), None, not_live()),
            ("before its start", 9, Some(give()), None, not_live()),
            ("after its end", 21, Some(give()), None, not_live()),
            ("not live beats membership", 21, Some(give()), Some(agreement(Active, 60, None)), not_live()),
            ("first day, nothing open", 10, Some(give()), None, KeywordDecision::DraftAgreement),
            ("last day, nothing open", 20, Some(give()), None, KeywordDecision::DraftAgreement),
            ("active member", 15, Some(give()), Some(agreement(Active, 1, Some(LINK))), already_member()),
            ("active long ago", 15, Some(give()), Some(agreement(Active, 60 * 24 * 90, None)), already_member()),
            ("fresh draft with its link", 15, Some(give()), fresh_pending.clone(), resend),
            ("fresh draft, no link yet", 15, Some(give()), Some(agreement(Pending, 2, None)), await_draft(None)),
            ("fresh draft, link not a URL", 15, Some(give()), Some(agreement(Pending, 2, Some("landing/agr_1"))),
                await_draft(Some(LinkError::NotAUrl("landing/agr_1".into())))),
            ("fresh draft, empty link", 15, Some(give()), Some(agreement(Pending, 2, Some(" "))), await_draft(Some(LinkError::Missing))),
            ("fresh draft, reply without placeholder", 15, Some(no_placeholder), fresh_pending, await_draft(Some(LinkError::NoPlaceholder))),
            ("draft of nine minutes", 15, Some(give()), Some(agreement(Pending, 9, None)), await_draft(None)),
            ("draft of exactly ten minutes", 15, Some(give()), Some(agreement(Pending, 10, Some(LINK))), KeywordDecision::DraftAgreement),
            ("draft older than ten minutes", 15, Some(give()), Some(agreement(Pending, 11, Some(LINK))), KeywordDecision::DraftAgreement),
        ];
        for (case, today, dialogue, open_agreement, expected) in rows {
            let facts = KeywordFacts {
                today: day(today),
                now_ms: NOW,
                dialogue,
                open_agreement,
            };
            assert_eq!(decide(&facts), expected, "{case}");
        }
    }

    #[test]
    fn each_decision_says_its_outcome_reply_and_agreement() {
        let resend = KeywordDecision::ResendLink {
            agreement_id: "agr_1",
            reply: "Takk! link".into(),
        };
        #[rustfmt::skip]
        let rows: Vec<(KeywordDecision, InboundOutcome, Option<ReplyPurpose>, Option<&str>)> = vec![
            (KeywordDecision::UnknownKeyword, InboundOutcome::UnknownKeyword, None, None),
            (not_live(), InboundOutcome::NotLive, Some(ReplyPurpose::NotLive), None),
            (already_member(), InboundOutcome::AlreadyMember, Some(ReplyPurpose::AlreadyMember), Some("agr_1")),
            (resend, InboundOutcome::LinkResent, Some(ReplyPurpose::VippsLink), Some("agr_1")),
            (await_draft(Some(LinkError::Missing)), InboundOutcome::DraftInProgress, None, Some("agr_1")),
            (KeywordDecision::DraftAgreement, InboundOutcome::AgreementDrafted, None, None),
        ];
        for (decision, outcome, purpose, agreement_id) in rows {
            assert_eq!(decision.outcome(), outcome, "{decision:?}");
            assert_eq!(decision.reply().map(|(p, _)| p), purpose, "{decision:?}");
            assert_eq!(decision.agreement_id(), agreement_id, "{decision:?}");
        }
        let decision = not_live();
        assert_eq!(
            decision.reply(),
            Some((ReplyPurpose::NotLive, replies::not_live("GIVE").as_str()))
        );
    }
}

//! The statuses of our agreements and charges with their forward-only rules, who stopped an
//! agreement, and what an SMS led to. Each is stored as the text `as_str()` returns (the
//! spelling the migrations' triggers and the API already use); any other stored text is an
//! error when read, never a default.
//!
//! Late and duplicate events are normal (webhooks repeat, polls overtake them), so a status only
//! ever moves forward: [`AgreementStatus::can_move_to`] and [`ChargeStatus::can_move_to`] say
//! which moves are forward; a move they refuse changes nothing.

use super::text_enum::text_enum;

text_enum! {
    /// Where one of our agreements is: PENDING → ACTIVE → STOPPED, PENDING → EXPIRED | STOPPED.
    pub enum AgreementStatus as "agreement status" {
        /// Drafted (or about to be), waiting for the user's confirmation in Vipps.
        Pending => "PENDING",
        /// Confirmed; the initial charge is captured and the periods are billed.
        Active => "ACTIVE",
        /// Stopped by the user or by us (final).
        Stopped => "STOPPED",
        /// Never confirmed; Vipps expired the draft (final).
        Expired => "EXPIRED",
    }
}

impl AgreementStatus {
    /// Whether `self → next` is a forward move. An ACTIVE agreement never expires (it is
    /// stopped), and the final statuses never change.
    pub fn can_move_to(self, next: AgreementStatus) -> bool {
        use AgreementStatus::*;
        matches!(
            (self, next),
            (Pending, Active | Stopped | Expired) | (Active, Stopped)
        )
    }

    /// PENDING or ACTIVE: it can still be stopped (and a phone has at most one such agreement
    /// per dialogue).
    pub fn is_open(self) -> bool {
        matches!(self, AgreementStatus::Pending | AgreementStatus::Active)
    }
}

text_enum! {
    /// Where one of our charges (one per agreement and period) is: Vipps's charge statuses plus
    /// two of ours, MISSED and CREATE_FAILED.
    pub enum ChargeStatus as "charge status" {
        /// Recorded; created in Vipps (or about to be), not yet due.
        Pending => "PENDING",
        Due => "DUE",
        Reserved => "RESERVED",
        Processing => "PROCESSING",
        Charged => "CHARGED",
        PartiallyCaptured => "PARTIALLY_CAPTURED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
        PartiallyRefunded => "PARTIALLY_REFUNDED",
        Refunded => "REFUNDED",
        /// Ours: the period's due date could no longer be met; it was never sent to Vipps.
        Missed => "MISSED",
        /// Ours: Vipps refused to create the charge.
        CreateFailed => "CREATE_FAILED",
    }
}

impl ChargeStatus {
    /// The forward order: a move must go to a higher rank.
    fn rank(self) -> u8 {
        use ChargeStatus::*;
        match self {
            Pending => 0,
            Due => 1,
            Reserved | Processing => 2,
            Charged | Failed | Cancelled | PartiallyCaptured | Missed | CreateFailed => 3,
            PartiallyRefunded => 4,
            Refunded => 5,
        }
    }

    /// Money was captured (a refund can follow).
    fn is_captured(self) -> bool {
        use ChargeStatus::*;
        matches!(self, Charged | PartiallyCaptured | PartiallyRefunded)
    }

    /// The charge ended without money and never moves again.
    fn is_dead_end(self) -> bool {
        use ChargeStatus::*;
        matches!(self, Failed | Cancelled | Missed | CreateFailed)
    }

    /// Whether `self → next` is a forward move: to a higher rank, a refund only after a
    /// capture, CREATE_FAILED only from PENDING (a create is refused before anything else
    /// happens to the charge), and nothing after FAILED, CANCELLED, MISSED or CREATE_FAILED.
    pub fn can_move_to(self, next: ChargeStatus) -> bool {
        use ChargeStatus::*;
        if self.is_dead_end() {
            return false;
        }
        match next {
            PartiallyRefunded | Refunded if !self.is_captured() => false,
            CreateFailed => self == Pending,
            _ => next.rank() > self.rank(),
        }
    }

    /// Not final yet: PENDING, DUE, RESERVED, PROCESSING (reconciliation re-reads these).
    pub fn is_open(self) -> bool {
        self.rank() < 3
    }

    /// PENDING or DUE: cancelled on our side too when the agreement stops (Vipps cancels its
    /// own).
    pub fn is_cancelled_on_stop(self) -> bool {
        matches!(self, ChargeStatus::Pending | ChargeStatus::Due)
    }
}

text_enum! {
    /// Where one refund of a charge is: PENDING (recorded, Vipps asked or about to be) → DONE
    /// (Vipps's charge shows the money back) | FAILED (Vipps refused it).
    pub enum RefundStatus as "refund status" {
        Pending => "PENDING",
        Done => "DONE",
        Failed => "FAILED",
    }
}

impl ChargeStatus {
    /// CHARGED or PARTIALLY_REFUNDED: money is there to give back.
    pub fn is_refundable(self) -> bool {
        matches!(
            self,
            ChargeStatus::Charged | ChargeStatus::PartiallyRefunded
        )
    }
}

text_enum! {
    /// Who stopped an agreement, as Vipps's `actor` says it (our own stops come back as
    /// MERCHANT).
    pub enum StopActor as "stop actor" {
        /// The user, in the Vipps app.
        User => "USER",
        /// The merchant: us (STOPP, the manage page, the partner API, the dialogue's end).
        Merchant => "MERCHANT",
        /// Vipps's own staff (listed in a third-party summary of the docs; never sent by us).
        Admin => "ADMIN",
    }
}

text_enum! {
    /// What an inbound SMS led to (`messages.outcome` of a message `in`).
    pub enum InboundOutcome as "inbound outcome" {
        /// No text at all.
        Empty => "empty",
        /// No live or upcoming dialogue has this keyword on this number.
        UnknownKeyword => "unknown_keyword",
        /// The dialogue exists but is not running today (or is not recurring).
        NotLive => "not_live",
        /// The phone already has an ACTIVE agreement on the dialogue.
        AlreadyMember => "already_member",
        /// A draft is still pending: its link was sent again.
        LinkResent => "link_resent",
        /// A draft is still pending and has no link yet: the draft job sends it.
        DraftInProgress => "draft_in_progress",
        /// A new agreement was created and its draft queued.
        AgreementDrafted => "agreement_drafted",
        /// STOPP: the phone's agreements on this number are stopped.
        Stop => "stop",
        /// HJELP: the partner's contact text was sent.
        Help => "help",
        /// PAUSE: the phone's active agreements on this number skip their next periods.
        Pause => "pause",
        /// START: their pause ended early.
        Resume => "resume",
    }
}

text_enum! {
    /// Why we send an SMS (`messages.outcome` of a message `out`); at most one reply per
    /// inbound message and purpose.
    pub enum ReplyPurpose as "reply purpose" {
        /// The dialogue's reply with the Vipps confirmation link.
        VippsLink => "vipps_link",
        NotLive => "not_live",
        AlreadyMember => "already_member",
        StopConfirmation => "stop_confirmation",
        Help => "help",
        /// A receipt for a CHARGED charge (the dialogue's receipt text).
        Receipt => "receipt",
        /// A notice that a charge FAILED (the dialogue's failed-payment text).
        PaymentFailed => "payment_failed",
        /// The answer to PAUSE.
        PauseConfirmation => "pause_confirmation",
        /// The answer to START.
        ResumeConfirmation => "resume_confirmation",
    }
}

text_enum! {
    /// Who paused an agreement (`agreements.paused_by`).
    pub enum PauseActor as "pause actor" {
        /// The user, by texting PAUSE.
        User => "user",
        /// The partner, in the portal or the API.
        Partner => "partner",
    }
}

impl ReplyPurpose {
    /// Sent on our own, not in answer to the user's message: held back in quiet hours.
    pub fn is_notice(self) -> bool {
        matches!(self, ReplyPurpose::Receipt | ReplyPurpose::PaymentFailed)
    }

    /// The reply is worthless without a link (it must not be sent without one).
    pub fn carries_link(self) -> bool {
        self == ReplyPurpose::VippsLink
    }
}

text_enum! {
    /// How one attempt of a background job ended (`job_attempts.outcome`).
    pub enum AttemptOutcome as "attempt outcome" {
        /// Still running (or its process died and no heartbeat check has noticed yet).
        Running => "running",
        Done => "done",
        /// Failed; it runs again after its backoff.
        Retry => "retry",
        /// Put off without using up an attempt (a rate limit).
        Snoozed => "snoozed",
        /// Failed in a way retrying cannot help: no further attempt.
        Permanent => "permanent",
        /// Failed on its last attempt.
        Failed => "failed",
        /// Its worker stopped heartbeating mid-attempt (a crash, a kill -9); the job was re-queued.
        Orphaned => "orphaned",
        /// Aborted by the runtime.
        Killed => "killed",
    }
}

impl AttemptOutcome {
    /// The attempt failed (counted as a failure on the Overview).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            AttemptOutcome::Retry
                | AttemptOutcome::Permanent
                | AttemptOutcome::Failed
                | AttemptOutcome::Orphaned
                | AttemptOutcome::Killed
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every value reads back as itself; anything else (other case, blank, a neighbour's
    /// value) is refused with the text in the error.
    fn round_trip<T>(all: &[T], others: &[&str])
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + std::str::FromStr<Err = super::super::text_enum::UnknownValue>,
        T: std::fmt::Display,
    {
        let texts: BTreeSet<String> = all.iter().map(|v| v.to_string()).collect();
        assert_eq!(texts.len(), all.len(), "two values share a text");
        for v in all {
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
        for text in others {
            let err = text.parse::<T>().unwrap_err();
            assert_eq!(err.value, *text);
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
    }

    #[test]
    fn statuses_round_trip_and_refuse_unknown_texts() {
        round_trip(
            AgreementStatus::ALL,
            &["", "active", "CANCELLED", " ACTIVE"],
        );
        round_trip(ChargeStatus::ALL, &["", "charged", "UNKNOWN", "STOPPED"]);
        round_trip(StopActor::ALL, &["", "user", "SYSTEM"]);
        round_trip(InboundOutcome::ALL, &["", "vipps_link", "STOP", "unknown"]);
        round_trip(ReplyPurpose::ALL, &["", "stop", "VIPPS_LINK"]);
    }

    #[test]
    fn the_stored_spellings_do_not_change() {
        // The migrations' triggers and the API's clients read these texts.
        let agreement: Vec<&str> = AgreementStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(agreement, ["PENDING", "ACTIVE", "STOPPED", "EXPIRED"]);
        let charge: Vec<&str> = ChargeStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            charge,
            [
                "PENDING",
                "DUE",
                "RESERVED",
                "PROCESSING",
                "CHARGED",
                "PARTIALLY_CAPTURED",
                "FAILED",
                "CANCELLED",
                "PARTIALLY_REFUNDED",
                "REFUNDED",
                "MISSED",
                "CREATE_FAILED"
            ]
        );
        assert_eq!(StopActor::Merchant.as_str(), "MERCHANT");
        assert_eq!(StopActor::User.as_str(), "USER");
        assert_eq!(
            InboundOutcome::AgreementDrafted.as_str(),
            "agreement_drafted"
        );
        assert_eq!(ReplyPurpose::VippsLink.as_str(), "vipps_link");
    }

    /// Every pair, against the list of allowed moves.
    fn allowed_moves<T: Copy + std::fmt::Display>(
        all: &[T],
        can: impl Fn(T, T) -> bool,
    ) -> BTreeSet<String> {
        all.iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| can(*a, *b))
            .map(|(a, b)| format!("{a}>{b}"))
            .collect()
    }

    fn set(moves: &[&str]) -> BTreeSet<String> {
        moves.iter().map(|m| (*m).to_owned()).collect()
    }

    #[test]
    fn agreements_only_move_forward() {
        assert_eq!(
            allowed_moves(AgreementStatus::ALL, AgreementStatus::can_move_to),
            set(&[
                "PENDING>ACTIVE",
                "PENDING>STOPPED",
                "PENDING>EXPIRED",
                "ACTIVE>STOPPED"
            ])
        );
        let open: Vec<_> = AgreementStatus::ALL
            .iter()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(open, [&AgreementStatus::Pending, &AgreementStatus::Active]);
    }

    #[test]
    fn charges_only_move_forward() {
        let mut expected = Vec::new();
        // Not yet final: on to any later step or end.
        let later: [(&str, &[&str]); 3] = [
            (
                "PENDING",
                &[
                    "DUE",
                    "RESERVED",
                    "PROCESSING",
                    "CHARGED",
                    "PARTIALLY_CAPTURED",
                    "FAILED",
                    "CANCELLED",
                    "MISSED",
                    "CREATE_FAILED",
                ],
            ),
            (
                "DUE",
                &[
                    "RESERVED",
                    "PROCESSING",
                    "CHARGED",
                    "PARTIALLY_CAPTURED",
                    "FAILED",
                    "CANCELLED",
                    "MISSED",
                ],
            ),
            (
                "RESERVED",
                &[
                    "CHARGED",
                    "PARTIALLY_CAPTURED",
                    "FAILED",
                    "CANCELLED",
                    "MISSED",
                ],
            ),
        ];
        for (from, tos) in later {
            expected.extend(tos.iter().map(|to| format!("{from}>{to}")));
        }
        for to in [
            "CHARGED",
            "PARTIALLY_CAPTURED",
            "FAILED",
            "CANCELLED",
            "MISSED",
        ] {
            expected.push(format!("PROCESSING>{to}"));
        }
        // Refunds follow a capture.
        for from in ["CHARGED", "PARTIALLY_CAPTURED"] {
            expected.push(format!("{from}>PARTIALLY_REFUNDED"));
            expected.push(format!("{from}>REFUNDED"));
        }
        expected.push("PARTIALLY_REFUNDED>REFUNDED".to_owned());
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_eq!(
            allowed_moves(ChargeStatus::ALL, ChargeStatus::can_move_to),
            set(&expected)
        );
        let open: Vec<&str> = ChargeStatus::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(open, ["PENDING", "DUE", "RESERVED", "PROCESSING"]);
        let cancelled: Vec<&str> = ChargeStatus::ALL
            .iter()
            .filter(|s| s.is_cancelled_on_stop())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(cancelled, ["PENDING", "DUE"]);
    }

    #[test]
    fn only_the_link_reply_needs_a_link() {
        let with_link: Vec<_> = ReplyPurpose::ALL
            .iter()
            .filter(|p| p.carries_link())
            .collect();
        assert_eq!(with_link, [&ReplyPurpose::VippsLink]);
    }
}

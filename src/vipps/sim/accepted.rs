//! Refunds and cancels answered 202 Accepted ("accepted, not yet applied: poll", Vipps
//! Recurring v3). Switched on with [`Faults::accept_later`](super::Faults::accept_later): the
//! change passes the rules when it is asked for, is kept on the charge, and is applied later,
//! at the [`Faults::accepted_reads`](super::Faults::accepted_reads)-th read of its charge or
//! once the clock passes [`APPLY_DELAY`] after it, whichever comes first. Reads stand for the
//! time passing between a client's polls, so a frozen test clock sees a poll too early and then
//! one that finds it applied; the delay is the docs' "start polling 5 s after the action".
//! When applied, the rules are checked again: a change the charge no longer allows (it was
//! taken meanwhile, the refund window closed) is logged in its history as unsuccessful.

use chrono::{DateTime, Utc};

use super::engine::{self, Owner};
use super::model::{AcceptedChange, Change, SimCharge, State};
use crate::vipps::wire::ChargeEventKind;

/// How long after the 202 the change is applied when nobody reads the charge.
pub const APPLY_DELAY: chrono::Duration = chrono::Duration::seconds(5);

/// Reads until an accepted change shows: the first read after the 202 still sees it not
/// applied, the second sees it applied.
pub const DEFAULT_READS: u32 = 2;

/// Keeps `change` on the charge, to be applied at its `reads`-th read (at least the first) or
/// after [`APPLY_DELAY`].
pub(super) fn record(c: &mut SimCharge, change: Change, key: &str, now: DateTime<Utc>, reads: u32) {
    c.accepted.push(AcceptedChange {
        change,
        key: key.to_owned(),
        apply_at: now + APPLY_DELAY,
        reads_left: reads.max(1),
    });
}

/// Applies, oldest first, the accepted changes `ready` picks. Returns the webhook events of
/// those applied.
pub(super) fn apply(
    c: &mut SimCharge,
    now: DateTime<Utc>,
    ready: impl Fn(&AcceptedChange) -> bool,
) -> Vec<&'static str> {
    if c.accepted.is_empty() {
        return Vec::new();
    }
    let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut c.accepted)
        .into_iter()
        .partition(|x| ready(x));
    c.accepted = waiting;
    due.iter().filter_map(|x| apply_one(c, x, now)).collect()
}

fn apply_one(c: &mut SimCharge, x: &AcceptedChange, now: DateTime<Utc>) -> Option<&'static str> {
    let (kind, amount, applied) = match x.change {
        Change::Refund { amount } => (
            ChargeEventKind::Refund,
            amount,
            engine::check_refund(c, now, amount)
                .map(|()| engine::apply_refund(c, now, amount, &x.key)),
        ),
        Change::Cancel => (
            ChargeEventKind::Cancel,
            c.amount - c.captured - c.cancelled,
            engine::check_cancel(c).map(|()| engine::apply_cancel(c, now, &x.key)),
        ),
    };
    if applied.is_err() {
        c.log(now, kind, amount, Some(&x.key), false);
    }
    applied.ok()
}

/// A read of the agreement's charges (`charge_id`: of that one only): every accepted change
/// of them counts it, and those it was the last read for are applied before the read answers.
pub(super) fn on_read(state: &mut State, msn: &str, agreement_id: &str, charge_id: Option<&str>) {
    let now = state.now;
    let Some(a) = state
        .agreements
        .get_mut(agreement_id)
        .filter(|a| a.msn == msn)
    else {
        return;
    };
    let owner = Owner::of(a);
    let mut events = Vec::new();
    for c in a
        .charges
        .iter_mut()
        .filter(|c| charge_id.is_none_or(|id| c.id == id))
    {
        for x in &mut c.accepted {
            x.reads_left = x.reads_left.saturating_sub(1);
        }
        for name in apply(c, now, |x| x.reads_left == 0) {
            events.push(engine::charge_event(&owner, c, name));
        }
    }
    engine::emit_all(state, msn, events);
}

/// Whether a read of these charges would count for an accepted change.
pub(super) fn waiting(state: &State, agreement_id: &str, charge_id: Option<&str>) -> bool {
    state.agreements.get(agreement_id).is_some_and(|a| {
        a.charges
            .iter()
            .any(|c| !c.accepted.is_empty() && charge_id.is_none_or(|id| c.id == id))
    })
}

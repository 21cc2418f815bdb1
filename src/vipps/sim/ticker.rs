//! The ticking clock (`vipps.simulator.clock = "ticking"`): simulator time is real time plus
//! [`State::offset_ms`], which advancing or setting the clock changes. A background task
//! applies the time-driven rules (draft expiry, charges falling due and being attempted) every
//! [`TICK`], so they happen at most that late; between ticks, changes are stamped with the
//! time of the last tick.
//!
//! The state file keeps the offset, not an instant: after a restart the clock goes on from
//! real time plus the offset (never backwards), and what fell due in between is applied.

use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::engine::{self, Rules};
use super::model::State;
use super::{Inner, Simulator};

/// How often the background task applies what has fallen due.
pub const TICK: Duration = Duration::from_secs(1);

/// Simulator time for a ticking clock: real time plus the offset, and never before the
/// time the rules were last applied at.
pub fn now(state: &State) -> DateTime<Utc> {
    state
        .now
        .max(Utc::now() + chrono::Duration::milliseconds(state.offset_ms))
}

/// Makes the clock read `target` from now on (rounded up to the millisecond, so it never
/// reads less than `target`).
pub fn set_offset(state: &mut State, target: DateTime<Utc>) {
    let ahead = target - Utc::now();
    state.offset_ms = ahead
        .num_nanoseconds()
        .map_or(ahead.num_milliseconds(), |ns| {
            (ns + 999_999).div_euclid(1_000_000)
        });
}

/// At start-up: a fresh state ticks on from its start time; a loaded one from real time plus
/// its offset, or from its last time if that is later (a file written by a frozen clock, or a
/// real clock that went back).
pub(super) fn start(state: &mut State, fresh: bool) {
    let behind = (state.now - Utc::now()).num_milliseconds();
    state.offset_ms = if fresh {
        behind
    } else {
        state.offset_ms.max(behind)
    };
}

/// True when bringing the state up to now would apply a rule, not only move the clock.
pub(super) fn due(state: &State, rules: &Rules) -> bool {
    engine::due_by(state, rules, now(state))
}

/// Applies everything up to now.
pub(super) fn catch_up(state: &mut State, rules: &Rules) {
    // `advance_to` only applies rules when moving forward.
    let target = now(state);
    if target > state.now {
        engine::advance_to(state, rules, target);
    }
}

/// Ticks every [`TICK`] until the simulator is dropped.
pub(super) fn spawn(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let sim = Simulator { inner };
            // Applying rules to many agreements holds the state lock a while: not on the
            // async threads.
            if tokio::task::spawn_blocking(move || sim.tick())
                .await
                .is_err()
            {
                tracing::error!("vipps-sim: the clock tick panicked");
            }
        }
    });
}

//! The poll strategy for every queue: wake on a fixed interval (other processes' jobs) and at
//! once when this process enqueues (a watch channel per queue).
//!
//! apalis's own `IntervalStrategy`/`StreamStrategy` can lose a wake-up: when the stream was
//! ready, nothing re-registers the waker, and the worker may sleep until its next heartbeat
//! (docs/apalis-1.0.md §9). This strategy drains both sources until they are pending, so a
//! waker is always registered for the next tick and the next enqueue.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{PollSnapshot, PollStrategy};
use futures::StreamExt;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_stream::wrappers::WatchStream;

pub struct WakeStrategy {
    interval: Interval,
    enqueued: WatchStream<u64>,
}

impl WakeStrategy {
    pub fn new(every: Duration, enqueued: tokio::sync::watch::Receiver<u64>) -> Self {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            interval,
            enqueued: WatchStream::from_changes(enqueued),
        }
    }
}

impl PollStrategy for WakeStrategy {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut woke = false;
        while self.interval.poll_tick(cx).is_ready() {
            woke = true;
        }
        while let Poll::Ready(Some(_)) = self.enqueued.poll_next_unpin(cx) {
            woke = true;
        }
        if woke {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

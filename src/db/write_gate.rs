//! SQLite has one writer at a time. Left to itself it hands the write lock over through its busy
//! handler, which sleeps between tries (1 ms, growing to 100 ms), so under load a transaction can
//! wait long after the lock was free, and the webhook writes that a caller is waiting on
//! ([`super::group_commit`]) wait behind the background jobs' as long as anyone.
//!
//! The gate is taken before `BEGIN IMMEDIATE` by every transaction of this process on a database
//! file ([`super::Db::begin`]) and held until it ends: our own writers queue here in order,
//! without sleeping, and a [`Priority::First`] writer goes ahead of every waiting
//! [`Priority::InTurn`] one. apalis's own statements (fetch, lock, acknowledge) and other
//! processes still meet ours at SQLite's lock. Like the busy timeout it stands in for, waiting
//! longer than `database.busy_timeout_ms` is an error.

use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use tokio::sync::oneshot;

/// Who goes first when both wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Someone is waiting for this commit (a webhook's answer).
    First,
    /// Background work.
    InTurn,
}

/// The gate of one database file.
#[derive(Debug)]
pub struct WriteGate {
    state: Mutex<State>,
    timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    first: VecDeque<oneshot::Sender<Turn>>,
    in_turn: VecDeque<oneshot::Sender<Turn>>,
}

/// The right to write, until dropped.
#[derive(Debug)]
pub struct Turn {
    /// `None` only for a turn that a waiter no longer took (it is passed on by the gate).
    gate: Option<Arc<WriteGate>>,
}

static GATES: LazyLock<Mutex<HashMap<PathBuf, Arc<WriteGate>>>> = LazyLock::new(Default::default);

/// The process's gate for the database file `path` (one per file, whichever pool opened it).
pub fn for_file(path: PathBuf, timeout: Duration) -> Arc<WriteGate> {
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    gates
        .entry(path)
        .or_insert_with(|| {
            Arc::new(WriteGate {
                state: Mutex::default(),
                timeout,
            })
        })
        .clone()
}

impl WriteGate {
    /// Waits for the turn to write.
    pub async fn enter(self: &Arc<Self>, priority: Priority) -> Result<Turn, sqlx::Error> {
        let waiting = {
            let mut state = self.lock();
            if !state.held {
                state.held = true;
                return Ok(Turn {
                    gate: Some(self.clone()),
                });
            }
            let (give, take) = oneshot::channel();
            match priority {
                Priority::First => state.first.push_back(give),
                Priority::InTurn => state.in_turn.push_back(give),
            }
            take
        };
        match tokio::time::timeout(self.timeout, waiting).await {
            Ok(Ok(turn)) => Ok(turn),
            // A dropped sender cannot happen (the turn is always handed on or kept); the
            // timeout leaves the sender queued, and a turn sent to it is handed on at once.
            Ok(Err(_)) | Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the turn to the next waiter, or frees the gate.
    fn pass_on(self: &Arc<Self>) {
        loop {
            let next = {
                let mut state = self.lock();
                match state
                    .first
                    .pop_front()
                    .or_else(|| state.in_turn.pop_front())
                {
                    Some(next) => next,
                    None => {
                        state.held = false;
                        return;
                    }
                }
            };
            let turn = Turn {
                gate: Some(self.clone()),
            };
            match next.send(turn) {
                Ok(()) => return,
                // That waiter gave up (timed out): the turn comes back; disarm it so that it
                // is not passed on twice, and try the next waiter.
                Err(mut turn) => drop(turn.gate.take()),
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(gate) = self.gate.take() {
            gate.pass_on();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Arc<WriteGate> {
        Arc::new(WriteGate {
            state: Mutex::default(),
            timeout: Duration::from_millis(200),
        })
    }

    #[tokio::test]
    async fn a_first_writer_goes_ahead_of_those_waiting_in_turn() {
        let gate = gate();
        let held = gate.enter(Priority::InTurn).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (name, priority) in [
            ("job 1", Priority::InTurn),
            ("job 2", Priority::InTurn),
            ("webhook", Priority::First),
        ] {
            let (gate, order) = (gate.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let _turn = gate.enter(priority).await.unwrap();
                order.lock().unwrap().push(name);
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["webhook", "job 1", "job 2"]);
    }

    #[tokio::test]
    async fn waiting_longer_than_the_timeout_is_an_error_and_leaves_the_gate_working() {
        let gate = gate();
        let held = gate.enter(Priority::InTurn).await.unwrap();
        let late = gate.enter(Priority::First).await;
        assert!(matches!(late, Err(sqlx::Error::PoolTimedOut)));
        drop(held);
        let again = tokio::time::timeout(Duration::from_millis(100), gate.enter(Priority::InTurn))
            .await
            .expect("the gate is free again");
        assert!(again.is_ok());
    }
}

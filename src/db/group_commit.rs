//! Group commit: small writes that arrive together (webhook ingest: inbound SMS, delivery
//! reports, Vipps events) share one transaction, and so one fsync, without weakening what a
//! caller is told. [`GroupCommit::run`] resolves only after the transaction holding its work
//! committed (or with the error that kept it out), so a 2xx answer still means the row is
//! durable.
//!
//! A few writer tasks (one on SQLite, which has one writer anyway) each take whatever work is
//! waiting, up to [`MAX_BATCH`], and apply it in one transaction. When a batch fails (one item's
//! error, or the commit), nothing of it is kept and every item is run again in a transaction
//! of its own, so one bad item costs the others only a retry and each caller gets its own
//! outcome. An idle system commits every item at once: a batch is what queued up while the
//! previous commit was on disk, never a wait for more.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use sqlx::sqlite::SqlitePoolOptions;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Db, Tx};

/// The most items one transaction holds.
pub const MAX_BATCH: usize = 256;

/// Writer tasks on PostgreSQL (each holds a connection only while it commits).
const POSTGRES_WRITERS: usize = 4;

/// Work that can share a transaction with other work: it writes only through `tx`, and can be
/// applied again (in a transaction of its own) when the shared one failed.
pub trait Work: Send + Sync + 'static {
    type Output: Send + 'static;
    type Error: From<sqlx::Error> + Send + 'static;

    fn apply<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, Result<Self::Output, Self::Error>>;
}

/// The handle callers share; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Box<dyn Queued>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer tasks on `db` (they end when the last handle is dropped); on SQLite
    /// a busy database is tried again for `busy_timeout` (`database.busy_timeout_ms`).
    pub fn start(db: &Db, busy_timeout: Duration) -> Self {
        let (queue, items) = mpsc::channel(MAX_BATCH * 4);
        let items = Arc::new(Mutex::new(items));
        let writer = Writer::on(db, busy_timeout);
        let writers = if db.is_postgres() {
            POSTGRES_WRITERS
        } else {
            1
        };
        for _ in 0..writers {
            tokio::spawn(write_loop(writer.clone(), items.clone()));
        }
        Self { queue }
    }

    /// Applies `work` in a shared transaction; returns its output once that committed.
    pub async fn run<W: Work>(&self, work: W) -> Result<W::Output, W::Error> {
        let (reply, answer) = oneshot::channel();
        let item = Box::new(Item {
            work,
            result: None,
            reply,
        });
        if self.queue.send(item).await.is_err() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        answer
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::PoolClosed.into()))
    }
}

/// A queued item with its type erased: applied (keeping its result), then answered.
trait Queued: Send {
    /// Applies the work in `tx`; `false` when it failed (the transaction must roll back).
    fn apply<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool>;
    /// Answers the caller: its own result, or `failed` (the begin or the commit) when given.
    fn answer(self: Box<Self>, failed: Option<sqlx::Error>);
}

struct Item<W: Work> {
    work: W,
    result: Option<Result<W::Output, W::Error>>,
    reply: oneshot::Sender<Result<W::Output, W::Error>>,
}

impl<W: Work> Queued for Item<W> {
    fn apply<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let result = self.work.apply(tx).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failed: Option<sqlx::Error>) {
        let result = match (failed, self.result) {
            (Some(error), _) => Err(error.into()),
            (None, Some(result)) => result,
            (None, None) => {
                Err(sqlx::Error::Protocol("group commit: work not applied".into()).into())
            }
        };
        // The caller may have gone (its request was cancelled); the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// Why a batch was not committed.
enum Failed {
    /// An item's own error (kept in the item).
    Item,
    /// Beginning or committing the transaction.
    Db(sqlx::Error),
}

/// Where the writers write. On SQLite a connection of their own that never waits in SQLite's
/// busy handler (its timeout is zero): a busy `BEGIN IMMEDIATE` is tried again a millisecond
/// later, for as long as the busy timeout allows, where the handler would sleep up to 100 ms
/// between tries while the background jobs' statements take the lock.
#[derive(Clone)]
struct Writer {
    db: Db,
    /// SQLite: how long to keep trying a busy `BEGIN` (PostgreSQL never answers busy).
    busy_timeout: Duration,
}

impl Writer {
    fn on(db: &Db, busy_timeout: Duration) -> Self {
        match db {
            Db::Postgres(_) => Self {
                db: db.clone(),
                busy_timeout,
            },
            Db::Sqlite(pool) => {
                let options = (*pool.connect_options()).clone();
                let own = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_lazy_with(options.busy_timeout(Duration::ZERO));
                Self {
                    db: Db::Sqlite(own),
                    busy_timeout,
                }
            }
        }
    }

    async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin_first_polling(self.busy_timeout).await
    }
}

async fn write_loop(writer: Writer, items: Arc<Mutex<mpsc::Receiver<Box<dyn Queued>>>>) {
    let mut batch: Vec<Box<dyn Queued>> = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = items.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if received == 0 {
            return;
        }
        crate::monitoring::group_commit_batch(batch.len());
        match commit(&writer, &mut batch).await {
            Ok(()) => batch.drain(..).for_each(|item| item.answer(None)),
            Err(failed) if batch.len() == 1 => {
                if let Some(item) = batch.pop() {
                    item.answer(failed.error());
                }
            }
            Err(_) => {
                tracing::debug!(items = batch.len(), "group commit failed; each item alone");
                for item in batch.drain(..) {
                    let mut one = [item];
                    let failed = commit(&writer, &mut one)
                        .await
                        .err()
                        .and_then(Failed::error);
                    let [item] = one;
                    item.answer(failed);
                }
            }
        }
    }
}

impl Failed {
    fn error(self) -> Option<sqlx::Error> {
        match self {
            Failed::Item => None,
            Failed::Db(e) => Some(e),
        }
    }
}

async fn commit(writer: &Writer, batch: &mut [Box<dyn Queued>]) -> Result<(), Failed> {
    let mut tx = writer.begin().await.map_err(Failed::Db)?;
    for item in batch.iter_mut() {
        if !item.apply(&mut tx).await {
            return Err(Failed::Item);
        }
    }
    tx.commit().await.map_err(Failed::Db)
}

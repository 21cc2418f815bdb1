//! `--state FILE`: the simulator state as a JSON snapshot, written atomically after every
//! change (or, with a save interval, at most that often and on [`Simulator::flush`]) and read
//! at start-up.
//!
//! [`Simulator::flush`]: super::Simulator::flush

use std::path::Path;
use std::sync::{Arc, Weak};

use anyhow::Context;
use tokio::sync::Notify;

use super::Inner;
use super::model::State;

/// Delayed saving: after a change, waits `save_interval` (collecting further changes), then
/// writes one snapshot. Ends when the simulator is dropped.
pub(super) fn spawn_saver(inner: Weak<Inner>, notify: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            notify.notified().await;
            let Some(interval) = inner.upgrade().map(|i| i.config.save_interval) else {
                return;
            };
            tokio::time::sleep(interval).await;
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || strong.save_if_dirty()).await;
        }
    });
}

/// Reads a snapshot, if the file exists.
pub fn load(path: &Path) -> anyhow::Result<Option<State>> {
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let state =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Some(state))
}

/// Writes a snapshot (temp file + rename, so a crash never leaves half a file).
pub fn save(path: &Path, state: &State) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_vec(state)?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

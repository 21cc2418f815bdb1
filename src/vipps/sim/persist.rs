//! `--state FILE`: the simulator state as a JSON snapshot, written atomically after every
//! change and read at start-up.

use std::path::Path;

use anyhow::Context;

use super::model::State;

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

//! Confirm-or-rollback for the firewall: `apply --confirm-within 2m` leaves a pending record
//! (`/var/lib/hardenctl/apply/confirm.json`, with the table that ran before) and starts a
//! detached watcher (`hardenctl apply --confirm-watch TOKEN`, its own process group, no open
//! terminal or pipe) that outlives the apply. `apply --confirm` removes the record; if it is still
//! there at the deadline, the watcher puts the previous table back (the bans running then are
//! kept) and says so in `confirm-result`.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::journal::{STATE_DIR, restore_firewall};
use super::store::{Meta, Store};

fn pending_path() -> String {
    format!("{STATE_DIR}/confirm.json")
}
fn result_path() -> String {
    format!("{STATE_DIR}/confirm-result")
}

#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    token: String,
    /// Unix seconds.
    deadline: i64,
    previous: Option<serde_json::Value>,
}

const PRIVATE: Meta = Meta {
    mode: 0o600,
    uid: 0,
    gid: 0,
};

fn open(root: &Path) -> Result<Store, String> {
    Store::open(root).map_err(|e| format!("{}: cannot open: {e}", root.display()))
}

/// Records the pending change and starts the watcher (`exe`, normally this binary). Returns the
/// deadline (RFC 3339).
pub fn arm(
    root: &Path,
    previous: Option<serde_json::Value>,
    within: Duration,
    exe: &Path,
) -> Result<String, String> {
    let store = open(root)?;
    let now = jiff::Timestamp::now();
    let deadline = now.as_second() + i64::try_from(within.as_secs()).unwrap_or(i64::MAX / 2);
    let token = format!("{}-{}", now.as_nanosecond(), std::process::id());
    let pending = Pending {
        token: token.clone(),
        deadline,
        previous,
    };
    let text = serde_json::to_vec(&pending).map_err(|e| e.to_string())?;
    store
        .write(&pending_path(), &text, PRIVATE)
        .map_err(|e| e.to_string())?;
    let _ = store.remove(&result_path());
    use std::os::unix::process::CommandExt;
    std::process::Command::new(exe)
        .args(["apply", "--persist-root"])
        .arg(root)
        .args(["--confirm-watch", &token])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group: a Ctrl-C or hang-up of the apply's terminal does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the rollback watcher: {e}"))?;
    Ok(jiff::Timestamp::from_second(deadline)
        .map(|t| t.to_string())
        .unwrap_or_default())
}

/// Confirms the pending firewall change. `Ok(false)` when nothing was pending (the result of an
/// earlier watcher, if any, is in the message of [`last_result`]).
pub fn confirm(root: &Path) -> Result<bool, String> {
    let store = open(root)?;
    if store
        .read(&pending_path())
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Ok(false);
    }
    store.remove(&pending_path()).map_err(|e| e.to_string())?;
    store
        .write(&result_path(), b"confirmed\n", PRIVATE)
        .map_err(|e| e.to_string())?;
    Ok(true)
}

/// What the last watcher did (`confirmed`, `rolled back at ...`), if anything.
pub fn last_result(root: &Path) -> Option<String> {
    let store = open(root).ok()?;
    let bytes = store.read(&result_path()).ok()??;
    Some(String::from_utf8_lossy(&bytes).trim().to_owned())
}

/// The watcher: waits for the deadline of the pending record `token`, and restores the previous
/// table unless the record was confirmed (removed) or replaced by a newer apply.
pub fn watch(root: &Path, token: &str) -> Result<String, String> {
    let store = open(root)?;
    loop {
        let Some(bytes) = store.read(&pending_path()).map_err(|e| e.to_string())? else {
            return Ok("confirmed".to_owned());
        };
        let pending: Pending =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", pending_path()))?;
        if pending.token != token {
            return Ok("superseded by a newer apply".to_owned());
        }
        let now = jiff::Timestamp::now().as_second();
        if now >= pending.deadline {
            restore_firewall(pending.previous.as_ref())?;
            store.remove(&pending_path()).map_err(|e| e.to_string())?;
            let msg = format!(
                "rolled back at {}: the firewall change was not confirmed in time",
                jiff::Timestamp::now()
            );
            store
                .write(&result_path(), format!("{msg}\n").as_bytes(), PRIVATE)
                .map_err(|e| e.to_string())?;
            return Ok(msg);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

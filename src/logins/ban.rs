//! Bans: elements with a timeout in the nftables sets of the `inet hardenctl` table, longer bans
//! for repeat offenders, and the state file that lets bans and repeat counts survive a restart.
//!
//! The nftables contract is shared with `hardenctl apply`: table `inet hardenctl`, sets `ban_v4`
//! and `ban_v6` (`flags timeout`), chain `bans` hooked on input at priority -10 with the rules
//! `ip saddr @ban_v4 drop` and `ip6 saddr @ban_v6 drop`. Only missing parts of that skeleton are
//! ever added; no other table is read or written, nothing is flushed. Every change is one
//! `nft -j -f -` transaction: either all of a batch's bans take effect or none do.
//!
//! The kernel expires the elements by itself; the state file is what remembers, across restarts,
//! when each ban ends and how often the address has been banned.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::net::canonical;
// The table's names are apply's: one definition of the table both write into.
use crate::apply::firewall::{
    BAN_V4 as SET_V4, BAN_V6 as SET_V6, BANS_CHAIN as CHAIN, BANS_PRIORITY, TABLE,
};
use crate::policy::Policy;
use crate::policy::value::parse_duration;

/// Where the monitor and `hardenctl bans` keep their state by default.
pub const DEFAULT_STATE: &str = "/var/lib/hardenctl/bans.json";

/// How long bans last: `ban-time` for a first ban, `ban-factor` times longer for each repeat,
/// never more than `ban-max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    pub ban_time: Duration,
    pub factor: u32,
    pub max: Duration,
}

impl Escalation {
    /// Reads `logins.ban-time`, `logins.ban-factor` and `logins.ban-max` from a resolved policy.
    pub fn from_policy(policy: &Policy) -> Result<Self, String> {
        let missing = |k: &str| format!("the policy has no logins.{k}");
        let duration = |k: &str| {
            policy
                .setting(&format!("logins.{k}"))
                .and_then(|v| v.as_str())
                .and_then(parse_duration)
                .ok_or_else(|| missing(k))
        };
        let factor = policy
            .setting("logins.ban-factor")
            .and_then(|v| v.as_int())
            .ok_or_else(|| missing("ban-factor"))?;
        let ban_time = duration("ban-time")?;
        Ok(Escalation {
            ban_time,
            factor: u32::try_from(factor.max(1)).unwrap_or(u32::MAX),
            // A cap below the first ban would shorten every ban: the first ban wins.
            max: duration("ban-max")?.max(ban_time),
        })
    }

    /// The length of an address's `count`-th ban (1 for the first).
    pub fn duration(&self, count: u32) -> Duration {
        let mut d = self.ban_time;
        for _ in 1..count {
            d = d.saturating_mul(self.factor);
            if d >= self.max {
                break;
            }
        }
        d.min(self.max)
    }
}

/// What the state file remembers about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    pub ip: IpAddr,
    /// When the current or last ban started, seconds since the epoch.
    pub since: u64,
    /// When it ends (has ended), seconds since the epoch.
    pub until: u64,
    /// How many times the address has been banned (repeat offenders get longer bans).
    pub count: u32,
}

/// Where a followed log file was read up to: the first byte not yet scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePos {
    pub dev: u64,
    pub inode: u64,
    pub offset: u64,
}

/// The persistent state of the monitor: bans with repeat counts, and how far each source was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// By address; the file holds them as a list.
    #[serde(with = "as_list")]
    pub bans: BTreeMap<IpAddr, BanRecord>,
    /// The journal cursor of the last entry scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_cursor: Option<String>,
    /// Followed files by path.
    #[serde(default)]
    pub files: BTreeMap<String, FilePos>,
}

impl State {
    pub fn record(&self, ip: IpAddr) -> Option<&BanRecord> {
        let ip = canonical(ip);
        self.bans.get(&ip)
    }

    /// Bans that are still running at `now`, with their remaining time.
    pub fn active(&self, now: u64) -> Vec<(IpAddr, Duration)> {
        self.bans
            .values()
            .filter(|r| r.until > now)
            .map(|r| (r.ip, Duration::from_secs(r.until - now)))
            .collect()
    }

    /// Records a ban of `ip` starting at `now`: `time` when given, else as long as the address's
    /// repeat count says. Returns the ban's length, or `None` when the address is already banned.
    pub fn ban(
        &mut self,
        ip: IpAddr,
        now: u64,
        esc: &Escalation,
        time: Option<Duration>,
    ) -> Option<(Duration, u32)> {
        let ip = canonical(ip);
        let r = self.bans.entry(ip).or_insert(BanRecord {
            ip,
            since: now,
            until: now,
            count: 0,
        });
        if r.until > now && time.is_none() {
            return None;
        }
        // A record that outlived its memory (see `prune`) starts over.
        if r.until.saturating_add(esc.max.as_secs()) < now {
            r.count = 0;
        }
        r.count = r.count.saturating_add(1);
        let length = time.unwrap_or_else(|| esc.duration(r.count));
        r.since = now;
        r.until = now.saturating_add(length.as_secs().max(1));
        Some((length, r.count))
    }

    /// Forgets `ip` entirely (an operator's unban also forgives its repeat count).
    pub fn remove(&mut self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.bans.remove(&ip).is_some()
    }

    /// Drops the records whose ban ended more than `ban-max` ago: the repeat count is forgotten,
    /// and the file stays bounded by the addresses banned within that time.
    pub fn prune(&mut self, now: u64, esc: &Escalation) {
        let keep = esc.max.as_secs();
        self.bans.retain(|_, r| r.until.saturating_add(keep) >= now);
    }
}

/// The bans map as a list of records in the file (JSON object keys would have to be strings).
mod as_list {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::BanRecord;
    use crate::net::canonical;

    pub(super) fn serialize<S: Serializer>(
        bans: &BTreeMap<IpAddr, BanRecord>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(bans.values())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<IpAddr, BanRecord>, D::Error> {
        let list = Vec::<BanRecord>::deserialize(d)?;
        Ok(list
            .into_iter()
            .map(|mut r| {
                r.ip = canonical(r.ip);
                (r.ip, r)
            })
            .collect())
    }
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The state file: read, changed and written back under an exclusive lock, so the monitor and
/// `hardenctl bans add|remove` never lose each other's changes; written atomically.
///
/// The state last written is kept, and the file is parsed again only when another process has
/// replaced it since (a new inode, size or time), so a monitor with many bans does not re-read
/// them at every batch.
#[derive(Debug)]
pub struct StateFile {
    pub path: PathBuf,
    cache: Option<(Stamp, State)>,
}

/// What identifies one version of the file.
type Stamp = (u64, u64, u64, i64, i64);

fn stamp(m: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec())
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateFile {
            path: path.into(),
            cache: None,
        }
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> String {
        format!("{}: {what}: {e}", self.path.display())
    }

    /// Reads the state (an absent file is an empty state).
    pub fn load(&self) -> Result<State, String> {
        let mut text = String::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_string(&mut text)
                    .map_err(|e| self.err("cannot read", e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(self.err("cannot read", e)),
        }
        let state: State =
            serde_json::from_str(&text).map_err(|e| self.err("not a hardenctl ban state", e))?;
        if state.version > 1 {
            return Err(self.err(
                "unsupported",
                format!("state version {} (this hardenctl reads 1)", state.version),
            ));
        }
        Ok(state)
    }

    /// Locks the file, reads it, lets `f` change it, and writes it back.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut State) -> R) -> Result<R, String> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.err("cannot create its directory", e))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| self.err("invalid", "not a file name"))?;
        // The lock is a separate file: the state file itself is replaced by rename.
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!(".{name}.lock")))
            .map_err(|e| self.err("cannot lock", e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| self.err("cannot lock", e))?;
        let current = std::fs::metadata(&self.path).ok().map(|m| stamp(&m));
        let mut state = match self.cache.take() {
            Some((s, state)) if Some(s) == current => state,
            _ => self.load()?,
        };
        let result = f(&mut state);
        state.version = 1;
        let written = self.write(dir, &name, &state)?;
        self.cache = Some((written, state));
        Ok(result)
    }

    fn write(&self, dir: &Path, name: &str, state: &State) -> Result<Stamp, String> {
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| -> std::io::Result<Stamp> {
            let f = File::create(&tmp)?;
            let mut w = std::io::BufWriter::new(f);
            serde_json::to_writer(&mut w, state)?;
            w.write_all(b"\n")?;
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            let written = stamp(&f.metadata()?);
            std::fs::rename(&tmp, &self.path)?;
            // The rename itself must reach the disk too.
            File::open(dir)?.sync_all()?;
            Ok(written)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| self.err("cannot write", e))
    }
}

/// An element of a ban set as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetElement {
    pub ip: IpAddr,
    /// Seconds until the kernel removes it; `None` for an element without a timeout.
    pub expires: Option<u64>,
}

/// What writes a program's standard input.
type WriteInput<'a> = dyn FnMut(&mut dyn Write) -> std::io::Result<()> + 'a;

/// The `nft` program, run in the caller's network namespace.
#[derive(Debug, Clone)]
pub struct Nft {
    pub program: PathBuf,
}

impl Default for Nft {
    fn default() -> Self {
        Nft {
            program: PathBuf::from("nft"),
        }
    }
}

fn set_of(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { SET_V4 } else { SET_V6 }
}

fn ban_rule(protocol: &str, set: &str) -> Value {
    json!([
        {"match": {"op": "==", "left": {"payload": {"protocol": protocol, "field": "saddr"}}, "right": format!("@{set}")}},
        {"drop": null}
    ])
}

impl Nft {
    fn run(&self, args: &[&str], input: Option<&str>) -> Result<String, String> {
        match input {
            Some(text) => self.run_with(
                args,
                Some(&mut |w: &mut dyn Write| w.write_all(text.as_bytes())),
            ),
            None => self.run_with(args, None),
        }
    }

    /// Runs nft with what `input` writes on its standard input.
    fn run_with(
        &self,
        args: &[&str],
        input: Option<&mut WriteInput<'_>>,
    ) -> Result<String, String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let name = self.program.display();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{name}: cannot run: {e}"))?;
        if let (Some(input), Some(stdin)) = (input, child.stdin.take()) {
            // Dropped at the end of this block: nft sees the end of its input.
            let mut w = std::io::BufWriter::with_capacity(1 << 16, stdin);
            input(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| format!("{name}: cannot write the transaction: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{name}: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().next().unwrap_or("").trim();
            return Err(format!(
                "{name} {}: {}",
                args.join(" "),
                if first.is_empty() {
                    out.status.to_string()
                } else {
                    first.to_owned()
                }
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn transaction(&self, commands: Vec<Value>) -> Result<(), String> {
        if commands.is_empty() {
            return Ok(());
        }
        let batch = json!({ "nftables": commands }).to_string();
        self.run(&["-j", "-f", "-"], Some(&batch)).map(|_| ())
    }

    /// The objects of `inet hardenctl`, or `None` when the table does not exist.
    fn table(&self) -> Result<Option<Vec<Value>>, String> {
        match self.run(&["-j", "list", "table", "inet", TABLE], None) {
            Ok(out) => {
                let v: Value = serde_json::from_str(&out)
                    .map_err(|e| format!("nft -j list table inet {TABLE}: unreadable JSON: {e}"))?;
                Ok(Some(
                    v.get("nftables")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                ))
            }
            Err(e) if e.contains("No such file or directory") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Adds whatever part of the ban skeleton is missing, in one transaction; an existing table
    /// (also one `hardenctl apply` made, with its own chains) is never flushed or rebuilt, and a
    /// rule that is already there is not added twice.
    pub fn ensure_skeleton(&self) -> Result<(), String> {
        let objects = self.table()?;
        let objects = objects.as_deref().unwrap_or_default();
        let has = |kind: &str, name: &str| {
            objects
                .iter()
                .any(|o| o.get(kind).and_then(|x| x.get("name")) == Some(&json!(name)))
        };
        let has_rule = |protocol: &str, set: &str| {
            let want = ban_rule(protocol, set);
            objects.iter().any(|o| {
                o.get("rule").is_some_and(|r| {
                    r.get("chain") == Some(&json!(CHAIN)) && r.get("expr") == Some(&want)
                })
            })
        };
        let mut cmds = Vec::new();
        if objects.is_empty() {
            cmds.push(json!({"add": {"table": {"family": "inet", "name": TABLE}}}));
        }
        for (set, ty) in [(SET_V4, "ipv4_addr"), (SET_V6, "ipv6_addr")] {
            if !has("set", set) {
                cmds.push(json!({"add": {"set": {"family": "inet", "table": TABLE, "name": set, "type": ty, "flags": ["timeout"]}}}));
            }
        }
        if !has("chain", CHAIN) {
            cmds.push(json!({"add": {"chain": {"family": "inet", "table": TABLE, "name": CHAIN, "type": "filter", "hook": "input", "prio": BANS_PRIORITY, "policy": "accept"}}}));
        }
        for (protocol, set) in [("ip", SET_V4), ("ip6", SET_V6)] {
            if !has_rule(protocol, set) {
                cmds.push(json!({"add": {"rule": {"family": "inet", "table": TABLE, "chain": CHAIN, "expr": ban_rule(protocol, set)}}}));
            }
        }
        self.transaction(cmds)
    }

    /// Bans `add` (each for its duration, replacing any element already there, so a re-ban gets
    /// its new timeout) and unbans `remove`, all in one transaction.
    pub fn apply(&self, add: &[(IpAddr, Duration)], remove: &[IpAddr]) -> Result<(), String> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        self.run_with(
            &["-j", "-f", "-"],
            Some(&mut |w: &mut dyn Write| write_batch(w, add, remove)),
        )
        .map(|_| ())
    }
}

/// The `nft -j -f -` transaction of [`Nft::apply`] as a string; `None` when there is nothing to do.
#[cfg(test)]
fn batch(add: &[(IpAddr, Duration)], remove: &[IpAddr]) -> Option<String> {
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    write_batch(&mut out, add, remove).ok()?;
    String::from_utf8(out).ok()
}

/// Writes the `nft -j -f -` transaction of [`Nft::apply`] (`add` or `remove` not empty).
/// Streamed into nft's standard input as text, never held whole: a batch under a flood holds
/// tens of thousands of elements (as one string, it was megabytes of the monitor's peak), and
/// addresses need no escaping.
fn write_batch(
    batch: &mut dyn Write,
    add: &[(IpAddr, Duration)],
    remove: &[IpAddr],
) -> std::io::Result<()> {
    batch.write_all(b"{\"nftables\":[")?;
    let mut first = true;
    for set in [SET_V4, SET_V6] {
        let adds = || {
            add.iter()
                .map(|(ip, d)| (canonical(*ip), d.as_secs().max(1)))
                .filter(|(ip, _)| set_of(*ip) == set)
        };
        let removes = || {
            remove
                .iter()
                .map(|ip| canonical(*ip))
                .filter(|ip| set_of(*ip) == set)
        };
        let has_adds = adds().next().is_some();
        if !has_adds && removes().next().is_none() {
            continue;
        }
        let mut command = |verb: &str, timed: bool| -> std::io::Result<()> {
            if !std::mem::take(&mut first) {
                batch.write_all(b",")?;
            }
            write!(
                batch,
                "{{\"{verb}\":{{\"element\":{{\"family\":\"inet\",\"table\":\"{TABLE}\",\"name\":\"{set}\",\"elem\":["
            )?;
            let mut sep = "";
            if timed {
                for (ip, secs) in adds() {
                    write!(
                        batch,
                        "{sep}{{\"elem\":{{\"val\":\"{ip}\",\"timeout\":{secs}}}}}"
                    )?;
                    sep = ",";
                }
            } else {
                for ip in adds().map(|(ip, _)| ip).chain(removes()) {
                    write!(batch, "{sep}\"{ip}\"")?;
                    sep = ",";
                }
            }
            batch.write_all(b"]}}}")
        };
        // nft 1.0.6 has no `destroy`, and `delete` of a missing element fails the whole
        // transaction: add first (a no-op when present), then delete, then add with the timeout.
        command("add", false)?;
        command("delete", false)?;
        if has_adds {
            command("add", true)?;
        }
    }
    batch.write_all(b"]}")
}

impl Nft {
    /// The elements of both ban sets; empty when the table or a set does not exist.
    pub fn list(&self) -> Result<Vec<SetElement>, String> {
        let mut out = Vec::new();
        for o in self.table()?.unwrap_or_default() {
            let Some(set) = o.get("set") else { continue };
            let name = set.get("name").and_then(Value::as_str);
            if name != Some(SET_V4) && name != Some(SET_V6) {
                continue;
            }
            for e in set
                .get("elem")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                // An element is a bare value, or `{"elem": {"val": ..., "expires": ...}}`.
                let (val, expires) = match e.get("elem") {
                    Some(inner) => (
                        inner.get("val"),
                        inner.get("expires").and_then(Value::as_u64),
                    ),
                    None => (Some(e), None),
                };
                if let Some(ip) = val
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<IpAddr>().ok())
                {
                    out.push(SetElement { ip, expires });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc() -> Escalation {
        Escalation {
            ban_time: Duration::from_secs(60),
            factor: 4,
            max: Duration::from_secs(3600),
        }
    }

    /// The batch is the JSON nft expects: per set, add and delete every address, then add the
    /// new bans with their timeouts.
    #[test]
    fn nft_batch_is_json() {
        assert_eq!(batch(&[], &[]), None);
        let v4: IpAddr = "203.0.113.5".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let b = batch(
            &[(v4, Duration::from_secs(60)), (v6, Duration::ZERO)],
            &[mapped],
        )
        .unwrap();
        let elements = |verb: &str, set: &str, elem: Value| json!({verb: {"element": {"family": "inet", "table": TABLE, "name": set, "elem": elem}}});
        let want = json!({"nftables": [
            elements("add", SET_V4, json!(["203.0.113.5", "198.51.100.1"])),
            elements("delete", SET_V4, json!(["203.0.113.5", "198.51.100.1"])),
            elements("add", SET_V4, json!([{"elem": {"val": "203.0.113.5", "timeout": 60}}])),
            elements("add", SET_V6, json!(["2001:db8::1"])),
            elements("delete", SET_V6, json!(["2001:db8::1"])),
            elements("add", SET_V6, json!([{"elem": {"val": "2001:db8::1", "timeout": 1}}])),
        ]});
        assert_eq!(serde_json::from_str::<Value>(&b).unwrap(), want);
        // Removals only: no timed add.
        let b = batch(&[], &[v4]).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&b).unwrap(),
            json!({"nftables": [
                elements("add", SET_V4, json!(["203.0.113.5"])),
                elements("delete", SET_V4, json!(["203.0.113.5"])),
            ]})
        );
    }

    #[test]
    fn escalation_multiplies_and_caps() {
        let e = esc();
        let secs: Vec<u64> = (1..=5).map(|n| e.duration(n).as_secs()).collect();
        assert_eq!(secs, [60, 240, 960, 3600, 3600]);
        assert_eq!(e.duration(u32::MAX).as_secs(), 3600);
        let flat = Escalation { factor: 1, ..e };
        assert_eq!(flat.duration(9).as_secs(), 60);
    }

    #[test]
    fn repeat_bans_escalate_and_are_forgotten_after_ban_max() {
        let e = esc();
        let mut s = State::default();
        let ip: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(
            s.ban(ip, 1000, &e, None),
            Some((Duration::from_secs(60), 1))
        );
        // Still banned: no second ban, no count.
        assert_eq!(s.ban(ip, 1030, &e, None), None);
        assert!(s.record("203.0.113.9".parse().unwrap()).is_some());
        assert_eq!(s.active(1030).len(), 1);
        assert_eq!(
            s.ban(ip, 1100, &e, None),
            Some((Duration::from_secs(240), 2))
        );
        // The second ban ended at 1340; an hour later the count is forgotten.
        s.prune(1340 + 3600, &e);
        assert_eq!(s.bans.len(), 1);
        s.prune(1340 + 3601, &e);
        assert!(s.bans.is_empty());
        assert_eq!(
            s.ban(ip, 9000, &e, None),
            Some((Duration::from_secs(60), 1))
        );
        assert!(s.remove("203.0.113.9".parse().unwrap()));
        assert!(s.bans.is_empty());
    }

    #[test]
    fn state_file_round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = StateFile::new(dir.path().join("sub/bans.json"));
        assert_eq!(f.load().unwrap(), State::default());
        f.update(|s| {
            s.ban("2001:db8::1".parse().unwrap(), 10, &esc(), None);
            s.journal_cursor = Some("s=1;i=2".into());
        })
        .unwrap();
        let s = f.load().unwrap();
        assert_eq!((s.version, s.bans.len()), (1, 1));
        assert_eq!(s.journal_cursor.as_deref(), Some("s=1;i=2"));
        // Another process (`hardenctl bans remove`) changes the file: the next update sees it.
        StateFile::new(&f.path)
            .update(|s| s.remove("2001:db8::1".parse().unwrap()))
            .unwrap();
        let n = f.update(|s| s.bans.len()).unwrap();
        assert_eq!(n, 0);
        std::fs::write(&f.path, "{\"bans\": 3}").unwrap();
        let e = f.load().unwrap_err();
        assert!(e.contains("bans.json: not a hardenctl ban state"), "{e}");
    }
}

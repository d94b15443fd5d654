//! Offline analysis of authentication logs (`hardenctl logins scan`): every recognised failure,
//! and the addresses the policy would ban, scored over a sliding window exactly as the daemon will.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::{Event, EventRef, parse_journal_json, parse_syslog};
use crate::net::Network;
use crate::policy::Policy;
use crate::policy::value::parse_duration;

/// The scoring rules, from the policy's `[logins]` settings.
#[derive(Debug, Clone)]
pub struct Rules {
    pub threshold: u32,
    pub window: Duration,
    pub ban_time: Duration,
    pub allow: Vec<Network>,
}

impl Rules {
    /// Reads `[logins]` from a resolved policy; the embedded levels always set it.
    pub fn from_policy(policy: &Policy) -> Result<Self, String> {
        let missing = |k: &str| format!("the policy has no logins.{k}");
        let threshold = policy
            .setting("logins.threshold")
            .and_then(|v| v.as_int())
            .ok_or_else(|| missing("threshold"))?;
        let duration = |k: &str| {
            policy
                .setting(&format!("logins.{k}"))
                .and_then(|v| v.as_str())
                .and_then(parse_duration)
                .ok_or_else(|| missing(k))
        };
        let mut allow: Vec<Network> = policy
            .setting("logins.allow")
            .map(|v| {
                v.as_strings()
                    .iter()
                    .filter_map(|s| Network::parse(s))
                    .collect()
            })
            .unwrap_or_default();
        // Loopback is never banned, whatever the policy says.
        allow.extend(
            ["127.0.0.0/8", "::1"]
                .iter()
                .filter_map(|n| Network::parse(n)),
        );
        Ok(Rules {
            threshold: u32::try_from(threshold.max(1)).unwrap_or(u32::MAX),
            window: duration("window")?,
            ban_time: duration("ban-time")?,
            allow,
        })
    }

    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(ip))
    }
}

/// A recognised event and where it was read.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub file: String,
    /// 1-based.
    pub line: usize,
    #[serde(flatten)]
    pub event: Event,
}

impl Located {
    /// The located event as a [`LocatedRef`] borrowing from it.
    pub fn borrowed(&self) -> LocatedRef<'_> {
        LocatedRef {
            file: &self.file,
            line: self.line,
            event: self.event.borrowed(),
        }
    }
}

/// A recognised event and where it was read, borrowing from the line ([`Scanner::read_each`]).
#[derive(Debug, Clone, Copy)]
pub struct LocatedRef<'a> {
    pub file: &'a str,
    /// 1-based.
    pub line: usize,
    pub event: EventRef<'a>,
}

impl LocatedRef<'_> {
    pub fn to_located(&self) -> Located {
        Located {
            file: self.file.to_owned(),
            line: self.line,
            event: self.event.to_event(),
        }
    }
}

/// An address whose score reached the threshold.
#[derive(Debug, Clone, Serialize)]
pub struct Offender {
    pub ip: IpAddr,
    /// The score within the window when the threshold was reached.
    pub score: u32,
    /// Failures recorded for the address since it was last tracked afresh (the whole input,
    /// unless its window was evicted under a flood before it reached the threshold).
    pub events: usize,
    /// When the threshold was reached (the ban would start), as logged.
    pub banned_at: Option<String>,
    pub ban_time_seconds: u64,
}

/// The totals and offenders of a scan; the events themselves are streamed to the caller as they
/// are read, so memory stays bounded by the number of addresses, not the size of the logs.
#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    pub lines: usize,
    /// Recognised failures (the events themselves are streamed).
    pub failures: usize,
    /// Empty when the offenders were streamed ([`Scanner::finish_each`]).
    pub offenders: Vec<Offender>,
    /// Addresses that reached the threshold but are allow-listed.
    pub allowed: Vec<IpAddr>,
    /// Windows forgotten to stay within [`Scanner::max_tracked`] under a flood of addresses.
    pub evicted: usize,
}

/// How much per-address state a scanner holds (see [`Scanner::tracked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tracked {
    /// Addresses with an open window (below the threshold).
    pub windows: usize,
    /// Addresses that reached the threshold and are kept for the report.
    pub banned: usize,
    /// Bytes held for both, counting table capacity (a close estimate of the heap they use).
    pub bytes: usize,
}

/// How many addresses below the threshold are tracked at most, per address family, unless
/// [`Scanner::max_tracked`] says otherwise: 7/8 of 65,536, the most a 65,536-bucket hash table
/// holds before it doubles, so a full IPv4 table takes about 1.1 MiB.
pub const DEFAULT_MAX_TRACKED: usize = 57_344;

/// Lines longer than this are counted but not parsed (syslog daemons cut lines at 8 KiB and
/// journald at 48 KiB; a journal export of such a message stays below it), so that a log
/// without newlines cannot make the scanner buffer it whole.
const MAX_LINE: usize = 1 << 20;

/// Time of a hit relative to the scanner's epoch, in seconds: 28 bits, about 4.25 years either
/// side. The weight is in the low 4 bits (the heaviest [`super::Kind`] weighs 10). A packed hit
/// is never 0 (only weighted events are scored), which marks the empty slots of a node.
const REL_BITS: u32 = 28;
const REL_HALF: i64 = 1 << (REL_BITS - 1);
const NO_NODE: u32 = u32::MAX;
const NO_TIME: u32 = u32::MAX;

/// An address below the threshold: its failure count and the hits of its window, the newest
/// inline (most addresses of a flood have one) and the others, if any, in the table's nodes.
#[derive(Clone, Copy)]
struct Track {
    events: u32,
    /// The newest hit, packed (`rel << 4 | weight`).
    newest: u32,
    /// The first node of the older hits in `Table::hits`, or `NO_NODE`.
    older: u32,
}

/// An address that reached the threshold.
#[derive(Clone, Copy)]
struct Banned {
    score: u32,
    events: u32,
    /// Offset of the logged time in `Scanner::times`, or `NO_TIME`.
    at: u32,
}

/// Slots of a node: `NODE - 1` hits and the index of the next node.
const NODE: usize = 4;

/// The older hits of every window, in nodes of three hits chained oldest first, with a free
/// list: no allocation per window (a boxed slice per window cost 16 bytes of pointer and a
/// 32-byte malloc chunk for one to six hits; a node is 16 bytes for up to three).
#[derive(Default)]
struct Hits {
    nodes: Vec<u32>,
    /// First free node (linked through their last slot), or `NO_NODE`.
    free: u32,
}

impl Hits {
    fn new() -> Self {
        Hits {
            nodes: Vec::new(),
            free: NO_NODE,
        }
    }

    /// The hits starting at node `first`, oldest first.
    fn iter(&self, first: u32) -> impl Iterator<Item = u32> + '_ {
        let (mut node, mut slot) = (first, 0);
        std::iter::from_fn(move || {
            if node == NO_NODE {
                return None;
            }
            let base = node as usize * NODE;
            let hit = self.nodes[base + slot];
            if hit == 0 {
                return None;
            }
            slot += 1;
            if slot == NODE - 1 {
                (node, slot) = (self.nodes[base + NODE - 1], 0);
            }
            Some(hit)
        })
    }

    fn release(&mut self, mut node: u32) {
        while node != NO_NODE {
            let last = node as usize * NODE + NODE - 1;
            let next = self.nodes[last];
            self.nodes[last] = self.free;
            self.free = node;
            node = next;
        }
    }

    /// Stores `hits` in a new chain; returns its first node (`NO_NODE` when `hits` is empty).
    fn store(&mut self, hits: &[u32]) -> u32 {
        let mut first = NO_NODE;
        // Filled back to front, so each node can point at the one after it.
        let count = hits.len().div_ceil(NODE - 1);
        for i in (0..count).rev() {
            let node = if self.free != NO_NODE {
                let n = self.free;
                self.free = self.nodes[n as usize * NODE + NODE - 1];
                n
            } else {
                let Ok(n) = u32::try_from(self.nodes.len() / NODE) else {
                    // Four billion nodes (64 GiB) cannot be reached within the table's bound.
                    return first;
                };
                self.nodes.extend_from_slice(&[0; NODE]);
                n
            };
            let base = node as usize * NODE;
            let part = &hits[i * (NODE - 1)..hits.len().min((i + 1) * (NODE - 1))];
            self.nodes[base..base + NODE - 1].fill(0);
            self.nodes[base..base + part.len()].copy_from_slice(part);
            self.nodes[base + NODE - 1] = first;
            first = node;
        }
        first
    }

    fn bytes(&self) -> usize {
        self.nodes.capacity() * 4
    }
}

/// The per-address state of one address family; `K` is `u32` for IPv4 and `[u8; 16]` for IPv6.
struct Table<K> {
    windows: HashMap<K, Track>,
    hits: Hits,
    /// The live hits of the window being updated (reused, so a hit allocates nothing).
    scratch: Vec<u32>,
    banned: HashMap<K, Banned>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table {
            windows: HashMap::new(),
            hits: Hits::new(),
            scratch: Vec::new(),
            banned: HashMap::new(),
        }
    }
}

fn pack(rel: u32, weight: u32) -> u32 {
    rel << 4 | weight.min(15)
}

fn rel_of(hit: u32) -> u32 {
    hit >> 4
}

fn weight_of(hit: u32) -> u32 {
    hit & 15
}

impl<K: std::hash::Hash + Eq + Copy> Table<K> {
    /// Drops the windows whose newest hit is a window or more before `now` (relative time).
    fn forget_idle(&mut self, now: i64, window: i64) {
        let hits = &mut self.hits;
        self.windows.retain(|_, t| {
            let keep = now - i64::from(rel_of(t.newest)) < window;
            if !keep {
                hits.release(t.older);
            }
            keep
        });
    }

    fn forget_windows(&mut self) {
        self.windows = HashMap::new();
        self.hits = Hits::new();
        self.scratch = Vec::new();
    }

    /// Whether a hit for `key` would need a new window while `max` are open.
    fn full_for(&mut self, key: &K, max: usize) -> bool {
        if self.windows.capacity() == 0 {
            // Sized once for the bound: growing by doubling would free a trail of smaller
            // tables that the allocator keeps (a megabyte of resident memory in the benchmark).
            // Only the control bytes (1 per bucket) are touched until addresses arrive.
            self.windows.reserve(max.min(DEFAULT_MAX_TRACKED));
        }
        self.windows.len() >= max
            && !self.windows.contains_key(key)
            && !self.banned.contains_key(key)
    }

    /// Adds a hit at `rel` to `key`'s window (`window` seconds long). When this hit makes the
    /// address reach the threshold, it is banned with its logged time from `at`.
    fn hit(
        &mut self,
        key: K,
        rel: u32,
        weight: u32,
        window: i64,
        threshold: u32,
        at: impl FnOnce() -> u32,
    ) {
        use std::collections::hash_map::Entry;
        if let Some(b) = self.banned.get_mut(&key) {
            b.events = b.events.saturating_add(1);
            return;
        }
        let new = pack(rel, weight);
        let mut entry = match self.windows.entry(key) {
            Entry::Vacant(v) => {
                if weight >= threshold {
                    let at = at();
                    self.banned.insert(
                        key,
                        Banned {
                            score: weight,
                            events: 1,
                            at,
                        },
                    );
                } else {
                    v.insert(Track {
                        events: 1,
                        newest: new,
                        older: NO_NODE,
                    });
                }
                return;
            }
            Entry::Occupied(o) => o,
        };
        let t = *entry.get();
        // The window after this hit: every earlier hit less than `window` seconds old.
        let live = |h: &u32| i64::from(rel) - i64::from(rel_of(*h)) < window;
        let kept = &mut self.scratch;
        kept.clear();
        kept.extend(self.hits.iter(t.older).chain([t.newest]).filter(live));
        let sum = kept.iter().map(|&h| weight_of(h)).sum::<u32>() + weight;
        let events = t.events.saturating_add(1);
        self.hits.release(t.older);
        if sum >= threshold {
            entry.remove();
            let at = at();
            self.banned.insert(
                key,
                Banned {
                    score: sum,
                    events,
                    at,
                },
            );
            return;
        }
        let older = self.hits.store(kept);
        *entry.get_mut() = Track {
            events,
            newest: new,
            older,
        };
    }

    /// Forgets the least relevant quarter of the windows: lowest live score first (an address
    /// whose hits have all expired carries no information), then the oldest newest hit. An
    /// address close to the threshold has a higher score than a one-shot address and outlives
    /// any number of them; banned addresses are not in `windows` and are never evicted.
    fn evict(&mut self, now: u32, window: i64, max: usize) -> usize {
        let rank = |hits: &Hits, t: &Track| -> u64 {
            let live = |h: &u32| i64::from(now) - i64::from(rel_of(*h)) < window;
            let score: u32 = hits
                .iter(t.older)
                .chain([t.newest])
                .filter(live)
                .map(weight_of)
                .sum();
            u64::from(score) << 32 | u64::from(rel_of(t.newest))
        };
        let goal = (max / 4).clamp(1, self.windows.len());
        let mut ranks: Vec<u64> = self.windows.values().map(|t| rank(&self.hits, t)).collect();
        let (_, &mut cut, _) = ranks.select_nth_unstable(goal - 1);
        drop(ranks);
        // Every rank below `cut` goes, and as many equal to it as make up the goal.
        let mut ties = goal
            - self
                .windows
                .values()
                .filter(|t| rank(&self.hits, t) < cut)
                .count();
        // Into a fresh table: removing from the old one would leave tombstones, and the table
        // would double at its next growth although it holds fewer addresses (for a moment both
        // tables exist: 2 × 1.1 MiB for IPv4).
        let old = std::mem::replace(&mut self.windows, HashMap::with_capacity(max));
        let mut gone = 0;
        for (k, t) in old {
            let r = rank(&self.hits, &t);
            if r < cut || (r == cut && ties > 0) {
                if r == cut {
                    ties -= 1;
                }
                gone += 1;
                self.hits.release(t.older);
            } else {
                self.windows.insert(k, t);
            }
        }
        gone
    }

    fn bytes(&self) -> usize {
        let entry = |k: usize, v: usize, cap: usize| {
            // hashbrown: one control byte per bucket; buckets are a power of two ≥ 8/7 × capacity.
            let buckets = if cap == 0 {
                0
            } else {
                (cap * 8 / 7).next_power_of_two()
            };
            buckets * (k + v + 1)
        };
        let k = size_of::<K>();
        entry(k, size_of::<Track>(), self.windows.capacity())
            + entry(k, size_of::<Banned>(), self.banned.capacity())
            + self.hits.bytes()
            + self.scratch.capacity() * 4
    }
}

/// The compact key of an address: IPv4 as `u32`, IPv6 as 16 bytes (an IPv4-mapped IPv6 address
/// was already reported as IPv4 by the parser).
enum Key {
    V4(u32),
    V6([u8; 16]),
}

fn key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => Key::V4(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::V4(u32::from(v4)),
            None => Key::V6(v6.octets()),
        },
    }
}

/// The banned addresses of each family with their compact keys, in report order.
type BannedLists = (Vec<(u32, Banned)>, Vec<([u8; 16], Banned)>);

/// Scans log inputs (syslog text or `journalctl -o json`, detected per line).
///
/// Memory is bounded: per address below the threshold, 16 bytes (IPv4; 28 for IPv6) in a hash
/// table plus 16 bytes per three hits older than the newest; at most [`Scanner::max_tracked`] such
/// addresses per family, after which the least relevant quarter is forgotten (see
/// `Table::evict`). Addresses that reached the threshold cost 16 bytes (IPv4) and their logged
/// time, and stay until [`Scanner::finish`] or [`Scanner::drain_offenders`].
pub struct Scanner {
    /// A copy (a few numbers and the allow-list), so a scanner can live as long as the daemon's
    /// monitor without borrowing the policy it was made from.
    rules: Rules,
    report: ScanReport,
    v4: Table<u32>,
    v6: Table<[u8; 16]>,
    max_tracked: usize,
    /// Logged ban times.
    times: Times,
    /// Hit times are stored relative to this (seconds since the epoch).
    epoch: Option<i64>,
    last_time: i64,
    clock: Clock,
}

impl Scanner {
    pub fn new(rules: &Rules) -> Self {
        Scanner {
            rules: rules.clone(),
            report: ScanReport::default(),
            v4: Table::default(),
            v6: Table::default(),
            max_tracked: DEFAULT_MAX_TRACKED,
            times: Times::default(),
            epoch: None,
            last_time: 0,
            clock: Clock::new(),
        }
    }

    /// Tracks at most `n` addresses below the threshold per address family (at least 4).
    pub fn max_tracked(mut self, n: usize) -> Self {
        self.max_tracked = n.max(4);
        self
    }

    /// The totals so far (lines, failures, evicted windows); offenders and allow-listed
    /// addresses are only filled in by [`Scanner::finish`].
    pub fn totals(&self) -> &ScanReport {
        &self.report
    }

    /// The per-address state held now.
    pub fn tracked(&self) -> Tracked {
        Tracked {
            windows: self.v4.windows.len() + self.v6.windows.len(),
            banned: self.v4.banned.len() + self.v6.banned.len(),
            bytes: self.v4.bytes() + self.v6.bytes() + self.times.bytes.capacity(),
        }
    }

    /// Reads one input to its end, handing each recognised event to `sink` as it is found.
    /// Invalid UTF-8 is replaced per line, never fatal.
    pub fn read(
        &mut self,
        name: &str,
        input: impl BufRead,
        sink: &mut dyn FnMut(Located) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.read_each(name, input, &mut |e| sink(e.to_located()))
    }

    /// [`Scanner::read`] without copying: each event borrows from its line, which lives until
    /// `sink` returns. Lines are split on bytes in the input's own buffer; only a line that
    /// straddles two reads is copied.
    pub fn read_each(
        &mut self,
        name: &str,
        mut input: impl BufRead,
        sink: &mut dyn FnMut(&LocatedRef<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut carry: Vec<u8> = Vec::new();
        let mut too_long = false;
        let mut line_no = 0;
        loop {
            let buf = match input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                if !carry.is_empty() || too_long {
                    line_no += 1;
                    self.line(name, line_no, &carry, too_long, sink)?;
                }
                return Ok(());
            }
            let len = buf.len();
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', buf) {
                line_no += 1;
                if carry.is_empty() && !too_long {
                    let long = end - start > MAX_LINE;
                    self.line(name, line_no, &buf[start..end], long, sink)?;
                } else {
                    carry.extend_from_slice(&buf[start..end]);
                    let long = too_long || carry.len() > MAX_LINE;
                    self.line(name, line_no, &carry, long, sink)?;
                    carry.clear();
                    too_long = false;
                }
                start = end + 1;
            }
            if !too_long {
                carry.extend_from_slice(&buf[start..]);
                if carry.len() > MAX_LINE {
                    too_long = true;
                    carry = Vec::new();
                }
            }
            input.consume(len);
        }
    }

    fn line(
        &mut self,
        name: &str,
        line_no: usize,
        bytes: &[u8],
        too_long: bool,
        sink: &mut dyn FnMut(&LocatedRef<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.report.lines += 1;
        if too_long {
            return Ok(());
        }
        // `line.trim_end_matches(['\n', '\r'])`, on bytes (CRLF logs end lines in `\r`).
        let end = bytes
            .iter()
            .rposition(|&b| b != b'\n' && b != b'\r')
            .map_or(0, |i| i + 1);
        let line = match std::str::from_utf8(&bytes[..end]) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(&bytes[..end]),
        };
        let line = &*line;
        let owned: Option<Event>;
        let event = if line.starts_with('{') {
            // A journal entry's message may be unescaped into a new string: owned.
            owned = parse_journal_json(line);
            owned.as_ref().map(Event::borrowed)
        } else {
            parse_syslog(line)
        };
        match event {
            Some(event) => {
                self.record(&event);
                self.report.failures += 1;
                sink(&LocatedRef {
                    file: name,
                    line: line_no,
                    event,
                })
            }
            None => Ok(()),
        }
    }

    fn record(&mut self, event: &EventRef<'_>) {
        // Logs without a parseable time keep the order of their lines.
        let t = event
            .time
            .and_then(|s| self.clock.seconds(s))
            .unwrap_or(self.last_time);
        self.last_time = t;
        let Some(ip) = event.ip.filter(|_| event.weight > 0) else {
            return;
        };
        let epoch = *self.epoch.get_or_insert(t);
        let rel = match t.checked_sub(epoch).map(|d| d + REL_HALF) {
            Some(r) if (0..1 << REL_BITS).contains(&r) => r as u32,
            _ => {
                // A jump of more than four years: the open windows have long expired (a
                // window is shorter than that), so they are dropped and time restarts here.
                self.report.evicted += self.v4.windows.len() + self.v6.windows.len();
                self.v4.forget_windows();
                self.v6.forget_windows();
                self.epoch = Some(t);
                REL_HALF as u32
            }
        };
        let window = i64::try_from(self.rules.window.as_secs()).unwrap_or(i64::MAX);
        let (threshold, max) = (self.rules.threshold, self.max_tracked);
        // The logged time is stored only when the address is banned.
        let times = &mut self.times;
        let at = || event.time.map_or(NO_TIME, |s| times.keep(s));
        match key(ip) {
            Key::V4(k) => {
                if self.v4.full_for(&k, max) {
                    self.report.evicted += self.v4.evict(rel, window, max);
                }
                self.v4.hit(k, rel, event.weight, window, threshold, at);
            }
            Key::V6(k) => {
                if self.v6.full_for(&k, max) {
                    self.report.evicted += self.v6.evict(rel, window, max);
                }
                self.v6.hit(k, rel, event.weight, window, threshold, at);
            }
        }
    }

    fn offender(&self, ip: IpAddr, b: &Banned) -> Offender {
        Offender {
            ip,
            score: b.score,
            events: b.events as usize,
            banned_at: self
                .times
                .get(b.at)
                .map(|s| String::from_utf8_lossy(s).into_owned()),
            ban_time_seconds: self.rules.ban_time.as_secs(),
        }
    }

    /// The banned addresses of both families, highest score first, then by address (every
    /// IPv4 address sorts before every IPv6 one, as in `IpAddr`'s order). Each family is listed
    /// with its compact key and its table dropped before the next is listed.
    fn take_banned(&mut self) -> BannedLists {
        fn sorted<K: Ord + Copy>(table: HashMap<K, Banned>) -> Vec<(K, Banned)> {
            let mut list: Vec<(K, Banned)> = table.into_iter().collect();
            list.sort_unstable_by(|(a, x), (b, y)| y.score.cmp(&x.score).then(a.cmp(b)));
            list
        }
        let v4 = sorted(std::mem::take(&mut self.v4.banned));
        let v6 = sorted(std::mem::take(&mut self.v6.banned));
        (v4, v6)
    }

    /// Both lists of [`Scanner::take_banned`] merged in report order.
    fn merged<'a>(
        v4: &'a [(u32, Banned)],
        v6: &'a [([u8; 16], Banned)],
    ) -> impl Iterator<Item = (IpAddr, Banned)> + 'a {
        let mut a = v4.iter().peekable();
        let mut b = v6.iter().peekable();
        std::iter::from_fn(move || {
            let take_v4 = match (a.peek(), b.peek()) {
                (Some((_, x)), Some((_, y))) => x.score >= y.score,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            if take_v4 {
                a.next().map(|(k, b)| (IpAddr::V4((*k).into()), *b))
            } else {
                b.next().map(|(k, b)| (IpAddr::V6((*k).into()), *b))
            }
        })
    }

    /// The addresses that reached the threshold since the last call (allow-listed ones included:
    /// the caller decides), for a monitor that bans while it reads. They are forgotten, so an
    /// address is scored afresh once its ban has ended.
    pub fn drain_offenders(&mut self) -> Vec<Offender> {
        let (v4, v6) = self.take_banned();
        let out = Self::merged(&v4, &v6)
            .map(|(ip, b)| self.offender(ip, &b))
            .collect();
        self.times.clear();
        out
    }

    /// Like [`Scanner::drain_offenders`], but hands each address and its score to `each`
    /// without building an [`Offender`] (the monitor needs neither the logged time nor a list:
    /// under a flood, tens of thousands of addresses reach the threshold between two commits).
    pub fn drain_each(&mut self, each: &mut dyn FnMut(IpAddr, u32)) {
        let (v4, v6) = self.take_banned();
        for (ip, b) in Self::merged(&v4, &v6) {
            each(ip, b.score);
        }
        self.times.clear();
    }

    /// Drops the windows whose failures all lie outside the window (at the latest time read), so
    /// a long-running monitor holds only the addresses that failed recently.
    pub fn forget_idle(&mut self) {
        let Some(epoch) = self.epoch else { return };
        let window = i64::try_from(self.rules.window.as_secs()).unwrap_or(i64::MAX);
        let now = self.last_time - epoch + REL_HALF;
        self.v4.forget_idle(now, window);
        self.v6.forget_idle(now, window);
    }

    /// The totals and offenders so far; the scanner starts over afterwards.
    pub fn finish(&mut self) -> ScanReport {
        let mut offenders = Vec::new();
        let mut report = self
            .finish_each(&mut |o| {
                offenders.push(o);
                Ok(())
            })
            .unwrap_or_default();
        report.offenders = offenders;
        report
    }

    /// Like [`Scanner::finish`], but hands each offender to `each` (highest score first, then by
    /// address) instead of collecting them, so that the report of a log with a million
    /// offenders needs no more memory than the scan did.
    pub fn finish_each(
        &mut self,
        each: &mut dyn FnMut(Offender) -> std::io::Result<()>,
    ) -> std::io::Result<ScanReport> {
        let mut report = std::mem::take(&mut self.report);
        // The open windows are freed before the offenders are listed, and each family's table
        // as soon as it is listed, to keep the report's peak at the scan's.
        self.v4.forget_windows();
        self.v6.forget_windows();
        let (v4, v6) = self.take_banned();
        let mut result = Ok(());
        for (ip, b) in Self::merged(&v4, &v6) {
            if self.rules.allowed(ip) {
                report.allowed.push(ip);
            } else if result.is_ok() {
                result = each(self.offender(ip, &b));
            }
        }
        self.times = Times::default();
        self.epoch = None;
        report.allowed.sort();
        result.map(|()| report)
    }
}

/// The logged times of bans, each stored once: bans mostly come in runs at the same second, or
/// at a few seconds, so a small cache of the times stored last finds nearly every repeat.
struct Times {
    /// Each time prefixed by its length.
    bytes: Vec<u8>,
    /// Offsets of recently stored times, by a hash of the time (`NO_TIME`: none).
    recent: [u32; 64],
}

impl Default for Times {
    fn default() -> Self {
        Times {
            bytes: Vec::new(),
            recent: [NO_TIME; 64],
        }
    }
}

impl Times {
    /// Stores a logged time (cut to 255 bytes) unless it was stored recently; its offset.
    fn keep(&mut self, s: &str) -> u32 {
        let mut end = s.len().min(255);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let s = &s.as_bytes()[..end];
        // FNV-1a: the slot only needs to spread a few distinct times.
        let hash = s.iter().fold(0x811c_9dc5u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let slot = (hash as usize) % self.recent.len();
        let at = self.recent[slot];
        if at != NO_TIME && self.get(at) == Some(s) {
            return at;
        }
        let Ok(at) = u32::try_from(self.bytes.len()) else {
            return NO_TIME;
        };
        self.bytes.push(end as u8);
        self.bytes.extend_from_slice(s);
        self.recent[slot] = at;
        at
    }

    fn get(&self, at: u32) -> Option<&[u8]> {
        let at = at as usize;
        let len = usize::from(*self.bytes.get(at)?);
        self.bytes.get(at + 1..at + 1 + len)
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.recent = [NO_TIME; 64];
    }
}

/// Seconds since the epoch of logged times. Syslog's `Mmm dd hh:mm:ss` is computed from a table
/// of month starts made once (the year is fixed for the run); other times (RFC 3339) go through
/// jiff with the last one remembered, since consecutive lines mostly share their second.
struct Clock {
    /// Seconds since the epoch at the start of each month of the year assumed for syslog's
    /// year-less times (the current one, which only matters across New Year), and its days.
    months: [(i64, i8); 12],
    last: String,
    last_seconds: Option<i64>,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

impl Clock {
    fn new() -> Self {
        let year = jiff::tz::TimeZone::UTC
            .to_datetime(jiff::Timestamp::now())
            .year();
        Self::for_year(year)
    }

    fn for_year(year: i16) -> Self {
        let mut months = [(0, 0); 12];
        for (m, slot) in (1i8..).zip(months.iter_mut()) {
            if let Ok(first) = jiff::civil::Date::new(year, m, 1)
                && let Ok(t) = jiff::tz::TimeZone::UTC
                    .to_timestamp(first.to_datetime(jiff::civil::Time::midnight()))
            {
                *slot = (t.as_second(), first.days_in_month());
            }
        }
        Clock {
            months,
            last: String::new(),
            last_seconds: None,
        }
    }

    fn seconds(&mut self, time: &str) -> Option<i64> {
        if let Some(t) = self.syslog_seconds(time.as_bytes()) {
            return Some(t);
        }
        if time != self.last {
            self.last_seconds = time.parse::<jiff::Timestamp>().ok().map(|t| t.as_second());
            self.last.clear();
            self.last.push_str(time);
        }
        self.last_seconds
    }

    /// `Mmm dd hh:mm:ss` (one-digit days padded with a space or a zero), checked like strptime
    /// (a day the month does not have, hour 24 or second 60 are no time).
    fn syslog_seconds(&self, b: &[u8]) -> Option<i64> {
        if b.len() != 15 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
            return None;
        }
        let (start, days) = self.months[MONTHS.iter().position(|m| m[..] == b[..3])?];
        let digit = |c: u8| c.is_ascii_digit().then(|| i8::try_from(c - b'0').ok())?;
        let two = |i: usize| Some(digit(b[i])? * 10 + digit(b[i + 1])?);
        let day = match b[4] {
            b' ' => digit(b[5])?,
            _ => two(4)?,
        };
        let (h, m, s) = (two(7)?, two(10)?, two(13)?);
        if !(1..=days).contains(&day) || h > 23 || m > 59 || s > 59 {
            return None;
        }
        Some(
            start
                + (i64::from(day) - 1) * 86_400
                + i64::from(h) * 3600
                + i64::from(m) * 60
                + i64::from(s),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(threshold: u32) -> Rules {
        Rules {
            threshold,
            window: Duration::from_secs(600),
            ban_time: Duration::from_secs(3600),
            allow: vec![
                Network::parse("10.0.0.0/8").unwrap(),
                Network::parse("127.0.0.0/8").unwrap(),
            ],
        }
    }

    #[test]
    fn scores_within_the_window_only() {
        let r = rules(30);
        let mut s = Scanner::new(&r);
        let log = "\
Nov 27 00:00:00 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:00:10 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:20:00 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:21:00 h sshd[1]: Failed password for root from 198.51.100.1 port 1 ssh2
Nov 27 00:21:01 h sshd[1]: Failed password for root from 198.51.100.1 port 1 ssh2
Nov 27 00:21:02 h sshd[1]: Invalid user x from 198.51.100.1 port 1
Nov 27 00:22:00 h sshd[1]: Failed password for root from 10.1.1.1 port 1 ssh2
Nov 27 00:22:01 h sshd[1]: Failed password for root from 10.1.1.1 port 1 ssh2
Nov 27 00:22:02 h sshd[1]: Failed password for root from 10.1.1.1 port 1 ssh2
";
        let mut events = Vec::new();
        s.read("auth.log", log.as_bytes(), &mut |e| {
            events.push(e);
            Ok(())
        })
        .unwrap();
        let rep = s.finish();
        assert_eq!(rep.lines, 9);
        assert_eq!((rep.failures, events.len()), (9, 9));
        assert_eq!(events[2].line, 3);
        // 203.0.113.5 never has three failures within ten minutes.
        let ips: Vec<String> = rep.offenders.iter().map(|o| o.ip.to_string()).collect();
        assert_eq!(ips, ["198.51.100.1"]);
        assert_eq!(rep.offenders[0].score, 30);
        assert_eq!(
            rep.offenders[0].banned_at.as_deref(),
            Some("Nov 27 00:21:02")
        );
        assert_eq!(rep.allowed, ["10.1.1.1".parse::<IpAddr>().unwrap()]);
    }

    /// The month table gives what jiff gives for every day of a leap and a common year.
    #[test]
    fn syslog_times_are_jiffs() {
        for year in [2024i16, 2026] {
            let clock = Clock::for_year(year);
            for (m, name) in (1i8..).zip(MONTHS) {
                let name = std::str::from_utf8(name).unwrap();
                for day in 0..=32i8 {
                    for (h, mi, s) in [(0, 0, 0), (23, 59, 59), (24, 0, 0), (12, 60, 0), (1, 2, 60)]
                    {
                        let want = jiff::civil::DateTime::new(year, m, day, h, mi, s, 0)
                            .ok()
                            .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
                            .map(|t| t.as_second());
                        for text in [
                            format!("{name} {day:>2} {h:02}:{mi:02}:{s:02}"),
                            format!("{name} {day:02} {h:02}:{mi:02}:{s:02}"),
                        ] {
                            assert_eq!(clock.syslog_seconds(text.as_bytes()), want, "{text}");
                        }
                    }
                }
            }
            assert_eq!(clock.syslog_seconds(b"Foo 27 00:00:00"), None);
            assert_eq!(clock.syslog_seconds(b"Nov 27 0a:00:00"), None);
        }
    }

    /// Ban times are stored once however they interleave, and read back as logged.
    #[test]
    fn ban_times_are_stored_once() {
        let mut t = Times::default();
        let a = t.keep("Nov 27 00:00:01");
        let b = t.keep("2026-11-27T00:00:28.123456+00:00");
        assert_eq!(t.keep("Nov 27 00:00:01"), a);
        assert_eq!(t.keep("2026-11-27T00:00:28.123456+00:00"), b);
        assert_eq!(t.get(a), Some(&b"Nov 27 00:00:01"[..]));
        assert_eq!(t.get(b), Some(&b"2026-11-27T00:00:28.123456+00:00"[..]));
        let long = "é".repeat(200);
        let c = t.keep(&long);
        assert_eq!(t.get(c).map(<[u8]>::len), Some(254));
        assert_eq!(t.get(NO_TIME), None);
    }

    /// Hit chains of every length survive storing, reading and freeing.
    #[test]
    fn hit_nodes_round_trip() {
        let mut h = Hits::new();
        let mut chains = Vec::new();
        for n in 0..12u32 {
            let hits: Vec<u32> = (1..=n).map(|i| i * 16 + 3).collect();
            chains.push((h.store(&hits), hits));
        }
        for (first, hits) in &chains {
            assert_eq!(h.iter(*first).collect::<Vec<_>>(), *hits);
        }
        let nodes = h.nodes.len();
        for (first, _) in chains.drain(..) {
            h.release(first);
        }
        // Freed nodes are reused before the arena grows.
        let first = h.store(&(1..=30).collect::<Vec<u32>>());
        assert_eq!(h.iter(first).count(), 30);
        assert_eq!(h.nodes.len(), nodes);
    }

    #[test]
    fn idle_windows_are_forgotten() {
        let r = rules(30);
        let mut s = Scanner::new(&r);
        let log = "\
Nov 27 00:00:00 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2
Nov 27 00:00:00 h sshd[1]: Failed password for root from 203.0.113.6 port 1 ssh2
Nov 27 00:15:00 h sshd[1]: Failed password for root from 203.0.113.6 port 1 ssh2
Nov 27 00:15:01 h sshd[1]: Failed password for root from 203.0.113.6 port 1 ssh2
";
        s.read("a", log.as_bytes(), &mut |_| Ok(())).unwrap();
        assert_eq!(s.tracked().windows, 2);
        s.forget_idle();
        // 203.0.113.5 failed last 15 minutes ago (window 10); .6 is recent.
        assert_eq!(s.tracked().windows, 1);
        assert!(s.v4.windows.contains_key(&u32::from(
            "203.0.113.6".parse::<std::net::Ipv4Addr>().unwrap()
        )));
    }
}

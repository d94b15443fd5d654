//! The failed-login monitor: follows the sources, scores every failure with the same sliding
//! window as `hardenctl logins scan` ([`Scanner`]), and bans each address that reaches the
//! threshold through the nftables ban sets. `hardenctl logins watch` runs it in the foreground;
//! `hardenctl daemon` hosts the same object.
//!
//! Each poll scores the new lines of every source. At most once a second a commit takes the
//! offenders from the scanner, records their bans in the state file together with how far each
//! source was read (one locked, atomic write), and adds them to nftables in one transaction. A
//! restart therefore resumes after the last commit: the journal after its cursor, files at their
//! offset, and running bans are re-added with the time they have left. Bans and positions are
//! saved together, so a crash only rolls both back: the lines after the saved position are read
//! again and give the same bans.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::ban::{Escalation, Nft, StateFile, now};
use super::follow::{FileFollower, Follower, JournalFollower, SourceSpec};
use super::scan::{Rules, Scanner};

/// Most bytes taken from one source per poll; the rest waits for the next poll, so memory does
/// not grow with a burst. A follower holds a read buffer and the lines of this size: 1 MiB
/// made 2 to 3 MiB of a flooded monitor's peak, and a poll of 256 KiB still scores some 2,500
/// lines.
const POLL_LIMIT: usize = 1 << 18;

/// Most one commit (bans, state file, nftables) per this long.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// How often every running ban is sent to nftables again, in case the table was replaced without
/// them (e.g. a ban added between `hardenctl apply` listing the table and replacing it).
const RESYNC_EVERY: Duration = Duration::from_secs(300);

/// A ban made by the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ban {
    pub ip: IpAddr,
    /// Its length (escalated for repeat offenders).
    pub seconds: u64,
    /// How many times the address has now been banned.
    pub count: u32,
    /// The score within the window when the threshold was reached.
    pub score: u32,
}

/// What one poll did.
#[derive(Debug, Default)]
pub struct Tick {
    /// Bytes of log read.
    pub bytes: usize,
    pub bans: Vec<Ban>,
    /// Addresses that reached the threshold but are allow-listed, so were not banned.
    pub allowed: Vec<IpAddr>,
    /// Problems that did not stop the monitor (a source that went away, nft failing); the
    /// monitor retries them at the next poll.
    pub errors: Vec<String>,
}

impl Tick {
    /// A (nearly) full batch was read: more is probably waiting, so poll again without a pause.
    pub fn more_waiting(&self) -> bool {
        self.bytes >= POLL_LIMIT / 2
    }
}

/// The monitor; owns a copy of the scoring rules, so the daemon can keep it as one of its jobs
/// and make a new one when a policy reload changes them.
pub struct Monitor {
    rules: Rules,
    escalation: Escalation,
    scanner: Scanner,
    state: StateFile,
    nft: Nft,
    sources: Vec<(String, Follower)>,
    buf: Vec<u8>,
    /// nftables may lack bans the state file has (a failed transaction, a flushed ruleset).
    nft_stale: bool,
    /// Read positions not yet saved.
    dirty: bool,
    /// Lines scored since the last commit (offenders may be waiting in the scanner).
    scanner_pending: bool,
    committed: Instant,
    resynced: Instant,
}

impl Monitor {
    /// Opens the state, creates the nftables skeleton if it is missing, re-adds the bans that are
    /// still running (returned with their remaining time), and opens every source where the
    /// last run left it.
    pub fn start(
        rules: &Rules,
        escalation: Escalation,
        state: PathBuf,
        sources: &[SourceSpec],
        nft: Nft,
    ) -> Result<(Self, Vec<(IpAddr, Duration)>), String> {
        let mut state = StateFile::new(state);
        let t = now();
        let saved = state.update(|s| {
            s.prune(t, &escalation);
            s.clone()
        })?;
        let active = saved.active(t);
        nft.ensure_skeleton()?;
        nft.apply(&active, &[])?;
        let followers = sources
            .iter()
            .map(|spec| {
                let f = match spec {
                    SourceSpec::Journal { directory } => Follower::Journal(JournalFollower::new(
                        directory.clone(),
                        saved.journal_cursor.clone(),
                    )),
                    SourceSpec::File(path) => {
                        let pos = saved.files.get(&path.display().to_string()).copied();
                        Follower::File(FileFollower::new(path.clone(), pos))
                    }
                };
                (spec.name(), f)
            })
            .collect();
        let monitor = Monitor {
            rules: rules.clone(),
            escalation,
            scanner: Scanner::new(rules),
            state,
            nft,
            sources: followers,
            buf: Vec::new(),
            nft_stale: false,
            dirty: true,
            scanner_pending: false,
            committed: Instant::now(),
            resynced: Instant::now(),
        };
        Ok((monitor, active))
    }

    /// Reads what the sources have, scores it and bans the new offenders. Only a state file that
    /// cannot be written is an error; everything else is reported in the tick and retried.
    pub fn poll(&mut self) -> Result<Tick, String> {
        self.poll_inner(false)
    }

    fn poll_inner(&mut self, force: bool) -> Result<Tick, String> {
        let mut tick = Tick::default();
        for (name, source) in &mut self.sources {
            self.buf.clear();
            if let Err(e) = source.read(&mut self.buf, POLL_LIMIT) {
                tick.errors.push(format!("{name}: {e}"));
            }
            tick.bytes += self.buf.len();
            if !self.buf.is_empty() {
                // Reading from memory cannot fail, and the events themselves are not needed here.
                let _ = self.scanner.read_each(name, &self.buf[..], &mut |_| Ok(()));
                self.dirty = true;
                self.scanner_pending = true;
            }
        }
        if self.resynced.elapsed() >= RESYNC_EVERY {
            self.nft_stale = true;
        }
        if !self.nft_stale && !self.dirty && !self.scanner_pending {
            return Ok(tick);
        }
        // One commit per second at most: under a flood, each commit rewrites a state file with
        // many bans. Offenders wait in the scanner meanwhile (a ban comes at most a second late).
        if !force && self.committed.elapsed() < COMMIT_EVERY {
            self.scanner_pending = true;
            return Ok(tick);
        }
        self.commit(&mut tick)?;
        Ok(tick)
    }

    /// Bans the offenders waiting in the scanner and saves the state with the read positions;
    /// then sends the bans to nftables.
    fn commit(&mut self, tick: &mut Tick) -> Result<(), String> {
        self.committed = Instant::now();
        self.scanner_pending = false;
        self.scanner.forget_idle();
        let mut offenders: Vec<(IpAddr, u32)> = Vec::new();
        let rules = &self.rules;
        self.scanner.drain_each(&mut |ip, score| {
            if rules.allowed(ip) {
                tick.allowed.push(ip);
            } else {
                offenders.push((ip, score));
            }
        });
        let t = now();
        let esc = self.escalation;
        let stale = self.nft_stale;
        let sources = &self.sources;
        let (bans, active) = self.state.update(|s| {
            s.prune(t, &esc);
            let bans: Vec<Ban> = offenders
                .iter()
                .filter_map(|&(ip, score)| {
                    let (length, count) = s.ban(ip, t, &esc, None)?;
                    Some(Ban {
                        ip: crate::net::canonical(ip),
                        seconds: length.as_secs(),
                        count,
                        score,
                    })
                })
                .collect();
            for (name, source) in sources {
                match source {
                    Follower::Journal(j) => {
                        if let Some(c) = j.cursor() {
                            s.journal_cursor = Some(c.to_owned());
                        }
                    }
                    Follower::File(f) => {
                        if let Some(p) = f.position() {
                            s.files.insert(name.clone(), p);
                        }
                    }
                }
            }
            (bans, if stale { s.active(t) } else { Vec::new() })
        })?;
        self.dirty = false;
        let adds: Vec<(IpAddr, Duration)> = if stale {
            active
        } else {
            bans.iter()
                .map(|b| (b.ip, Duration::from_secs(b.seconds)))
                .collect()
        };
        let applied = if stale {
            self.nft.ensure_skeleton()
        } else {
            Ok(())
        }
        .and_then(|()| self.nft.apply(&adds, &[]));
        match applied {
            Ok(()) => {
                if stale {
                    self.resynced = Instant::now();
                }
                self.nft_stale = false;
            }
            Err(e) => {
                self.nft_stale = true;
                tick.errors.push(e);
            }
        }
        tick.bans = bans;
        Ok(())
    }

    /// Commits whatever is pending now (the daemon calls it before it exits).
    pub fn flush(&mut self) -> Result<Tick, String> {
        self.poll_inner(true)
    }

    /// Polls every `interval` until `stop` is set, handing each tick that did something to
    /// `report`.
    pub fn run(
        &mut self,
        interval: Duration,
        stop: &AtomicBool,
        report: &mut dyn FnMut(&Tick),
    ) -> Result<(), String> {
        while !stop.load(Ordering::Relaxed) {
            let tick = self.poll()?;
            if !tick.bans.is_empty() || !tick.allowed.is_empty() || !tick.errors.is_empty() {
                report(&tick);
            }
            if !tick.more_waiting() {
                std::thread::sleep(interval);
            }
        }
        let tick = self.flush()?;
        report(&tick);
        Ok(())
    }
}

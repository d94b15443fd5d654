//! The evaluation engine: servconf.c's two-pass processing reproduced step by step.
//!
//! `sshd -T` evaluates a configuration twice. Pass 1 reads every file with no connection: global
//! directives take effect (first value wins), `Match` blocks are only syntax-checked (except
//! `Match all`, which sshd treats as matching even here). Compiled-in defaults then fill what is
//! unset. Pass 2 re-reads the same text for the connection given with `-C`: only directives inside
//! matching `Match` blocks take effect, into a fresh option set, and every Match-able option set
//! there overwrites the pass-1 value. Reproducing this literally (rather than a simplified "last
//! matching block wins" model) is what makes the result agree with sshd on quirks such as
//! `Match all` in pass 1, per-file Match state across `Include`, and which options a Match block
//! can override.

use std::collections::HashMap;
use std::net::IpAddr;

use super::keywords::{self, FLAG, GLOBAL, MATCH, Op};
use super::lex;
use super::matching;
use super::{MatchSpec, Source, SshdError};
use crate::system::SystemView;

/// Include nesting limit (`SERVCONF_MAX_DEPTH`).
const MAX_DEPTH: usize = 16;
/// `MAX_PORTS` / `MAX_SUBSYSTEMS` in servconf.h.
const MAX_PORTS: usize = 256;
const MAX_SUBSYSTEMS: usize = 256;
/// Upper bound on files pulled in by includes, so a hostile tree cannot make us read forever
/// (sshd itself is bounded by the depth limit only; real configurations are far below this).
const MAX_INCLUDED_FILES: usize = 4096;
/// Upper bound on configuration lines processed in one pass. Includes are cached and re-parsed
/// on every Include line, so a hostile tree of files each including the next many times grows
/// exponentially up to the depth limit; sshd would hang on it, an auditor must not.
const MAX_LINES: usize = 200_000;
/// sshd resolves relative Include paths against this directory (`SSHDIR`).
const SSHDIR: &str = "/etc/ssh";
/// sshd's working directory when run as a service; relative file names are made absolute
/// against it (`derelativise_path`). The tests run the real sshd from `/` too.
const SSHD_CWD: &str = "/";

/// Internal-only flags of `parse_server_config_depth`.
const NEVERMATCH: u8 = 4;
const MATCH_ONLY: u8 = 8;

/// A stored option value: the values as sshd -T prints them and where they were set.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) vals: Vec<String>,
    pub(crate) src: Option<Source>,
    /// Algorithm lists: true when the value was copied from a Match block and still needs one
    /// assembly pass (copy_set_server_options assembles again after copying).
    raw_from_match: bool,
}

/// The option set (`ServerOptions`), keyed by slot name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Opts {
    pub(crate) m: HashMap<&'static str, Slot>,
    queued_listen: Vec<(String, u16, Option<Source>)>,
}

impl Opts {
    fn is_set(&self, k: &str) -> bool {
        self.m.contains_key(k)
    }
    fn set_first(&mut self, k: &'static str, v: String, src: &Source) {
        self.m.entry(k).or_insert_with(|| Slot {
            vals: vec![v],
            src: Some(src.clone()),
            raw_from_match: false,
        });
    }
    fn set(&mut self, k: &'static str, vals: Vec<String>, src: Option<Source>) {
        self.m.insert(
            k,
            Slot {
                vals,
                src,
                raw_from_match: false,
            },
        );
    }
    fn push(&mut self, k: &'static str, v: String, src: &Source) {
        let slot = self.m.entry(k).or_insert_with(|| Slot {
            vals: Vec::new(),
            src: Some(src.clone()),
            raw_from_match: false,
        });
        slot.vals.push(v);
    }
    fn count(&self, k: &str) -> usize {
        self.m.get(k).map_or(0, |s| s.vals.len())
    }
    pub(crate) fn get1(&self, k: &str) -> Option<&str> {
        self.m
            .get(k)
            .and_then(|s| s.vals.first())
            .map(String::as_str)
    }
    fn default(&mut self, k: &'static str, v: &str) {
        if !self.is_set(k) {
            self.set(k, vec![v.to_owned()], None);
        }
    }
}

/// One cached Include glob result (`struct include_item`).
struct IncludeItem {
    selector: String,
    /// `None` records a glob that matched nothing.
    file: Option<(String, String)>,
}

/// A passwd entry as far as sshd's Match Group and tilde expansion need it.
struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The connection under test in pass 2 (`struct connection_info` with `test = 1`).
pub(crate) struct Conn<'a> {
    pub(crate) spec: &'a MatchSpec,
}

pub(crate) struct Parser<'a> {
    view: Option<&'a dyn SystemView>,
    conn: Option<Conn<'a>>,
    includes: Vec<IncludeItem>,
    files_read: usize,
    lines: usize,
    accounts: Option<(Vec<Passwd>, Vec<Group>)>,
    /// Set for the collection pass (see [`Parser::start_collect`]).
    collect: Option<Collect>,
}

/// One `Match` block as the collection pass saw it.
#[derive(Debug)]
pub(crate) struct BlockAcc {
    /// The criteria as written after `Match`.
    pub(crate) criteria: String,
    /// The `Match` line.
    pub(crate) src: Source,
    /// The block whose `Include` brought this block in (an index into the block list).
    pub(crate) parent: Option<usize>,
    /// `Match all`.
    pub(crate) all: bool,
    /// What the block's directives set, into an option set of their own (pass 2's `mo`).
    pub(crate) opts: Opts,
    /// The first error processing the block for a matching connection raised.
    pub(crate) error: Option<SshdError>,
}

/// State of the collection pass: the blocks seen so far, the block the current line belongs
/// to, and the block enclosing the file being read (its Include's block).
#[derive(Debug, Default)]
struct Collect {
    blocks: Vec<BlockAcc>,
    cur: Option<usize>,
    base: Option<usize>,
}

/// One directive being applied: its keyword entry, arguments, spelling, raw rest and line.
struct Directive<'a, 'b> {
    kw: &'static keywords::Keyword,
    av: &'b mut Args,
    keyword: &'a str,
    str_rest: &'a str,
    src: &'a Source,
}

fn err(src: &Source, message: impl Into<String>) -> SshdError {
    SshdError::Config {
        file: src.file.clone(),
        line: src.line,
        message: message.into(),
    }
}

/// `load_server_config()` + `strsep(&cbuf, "\n")`: leading blanks of each line are dropped and a
/// NUL byte ends a line's text *and swallows its newline*, exactly like sshd's strlen-based copy.
pub(crate) fn split_lines(text: &str) -> Vec<String> {
    let mut buf: Vec<u8> = Vec::with_capacity(text.len());
    for raw in text.as_bytes().split_inclusive(|&b| b == b'\n') {
        let start = raw
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
            .unwrap_or(raw.len());
        let rest = &raw[start..];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        buf.extend_from_slice(&rest[..end]);
    }
    buf.split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Arguments of one directive (`argv_next`).
struct Args {
    v: Vec<String>,
    i: usize,
}

impl Args {
    fn next(&mut self) -> Option<String> {
        let a = self.v.get(self.i).cloned();
        if a.is_some() {
            self.i += 1;
        }
        a
    }
    fn peek(&self) -> Option<&str> {
        self.v.get(self.i).map(String::as_str)
    }
    fn remaining(&self) -> usize {
        self.v.len().saturating_sub(self.i)
    }
    fn consume(&mut self) {
        self.i = self.v.len();
    }
}

fn nonempty(a: Option<String>) -> Option<String> {
    a.filter(|s| !s.is_empty())
}

impl<'a> Parser<'a> {
    pub(crate) fn new(view: Option<&'a dyn SystemView>) -> Self {
        Self {
            view,
            conn: None,
            includes: Vec::new(),
            files_read: 0,
            lines: 0,
            accounts: None,
            collect: None,
        }
    }

    /// Starts the collection pass: the text is read again as in pass 2, but every `Match` block
    /// is taken as matching and its directives go to an option set of its own, so each block's
    /// settings come out exactly as sshd would apply them for a connection that matches it (and
    /// no earlier block). Includes inside a Match block are followed; a `Match` inside such an
    /// included file opens a block nested in the including one.
    pub(crate) fn start_collect(&mut self) {
        self.conn = None;
        self.lines = 0;
        self.collect = Some(Collect::default());
    }

    /// The blocks the collection pass found, in file order.
    pub(crate) fn take_blocks(&mut self) -> Vec<BlockAcc> {
        self.collect.take().map(|c| c.blocks).unwrap_or_default()
    }

    fn begin_block(&mut self, criteria: &str, src: &Source, all: bool) {
        if let Some(c) = &mut self.collect {
            c.blocks.push(BlockAcc {
                criteria: criteria_text(criteria),
                src: src.clone(),
                parent: c.base,
                all,
                opts: <Opts as Default>::default(),
                error: None,
            });
            c.cur = Some(c.blocks.len() - 1);
        }
    }

    pub(crate) fn set_conn(&mut self, conn: Option<Conn<'a>>) {
        self.conn = conn;
        self.lines = 0;
    }

    fn accounts(&mut self) -> &(Vec<Passwd>, Vec<Group>) {
        let view = self.view;
        self.accounts.get_or_insert_with(|| load_accounts(view))
    }

    /// `tilde_expand_filename(path, getuid())`; sshd -T runs as root, so `~` is root's home.
    fn tilde(&mut self, path: &str, src: &Source) -> Result<String, SshdError> {
        let Some(rest) = path.strip_prefix('~') else {
            return Ok(path.to_owned());
        };
        let (user, sub): (Option<&str>, Option<&str>) = if rest.is_empty() {
            (None, None)
        } else if rest.starts_with('/') {
            let t = rest.trim_start_matches('/');
            (None, (!t.is_empty()).then_some(t))
        } else {
            match rest.split_once('/') {
                Some((u, p)) => {
                    let p = p.trim_start_matches('/');
                    (Some(u), (!p.is_empty()).then_some(p))
                }
                None => (Some(rest), None),
            }
        };
        let (passwd, _) = self.accounts();
        let pw = match user {
            Some(u) => passwd.iter().find(|p| p.name == u),
            None => passwd.iter().find(|p| p.uid == 0),
        };
        let Some(pw) = pw else {
            return Err(err(src, format!("cannot expand {path}: no such user")));
        };
        let slash = if pw.home.ends_with('/') { "" } else { "/" };
        Ok(format!("{}{}{}", pw.home, slash, sub.unwrap_or("")))
    }

    /// `derelativise_path()`.
    fn derelativise(&mut self, path: &str, src: &Source) -> Result<String, SshdError> {
        if path.eq_ignore_ascii_case("none") {
            return Ok("none".to_owned());
        }
        let expanded = self.tilde(path, src)?;
        if expanded.starts_with('/') {
            Ok(expanded)
        } else {
            // sshd joins with "%s/%s" even when the directory is "/": "//relative.pid".
            Ok(format!("{SSHD_CWD}/{expanded}"))
        }
    }

    /// `a2port()`: a number 0..=65535 or a service name from the audited system's /etc/services.
    fn a2port(&self, s: &str) -> Option<u16> {
        if let Ok(v) = lex::strtonum(s, 0, 65535) {
            return u16::try_from(v).ok();
        }
        let services = self
            .view
            .and_then(|v| v.read_optional("/etc/services").ok().flatten())?;
        for line in services.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut f = line.split_whitespace();
            let (Some(name), Some(pp)) = (f.next(), f.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            if proto == "tcp" && (name == s || f.any(|alias| alias == s)) {
                return port.parse().ok();
            }
        }
        None
    }

    /// `parse_server_config_depth()`.
    pub(crate) fn parse_depth(
        &mut self,
        opts: &mut Opts,
        file: &str,
        text: &str,
        mut flags: u8,
        active: &mut bool,
        depth: usize,
    ) -> Result<(), SshdError> {
        if depth > MAX_DEPTH {
            return Err(SshdError::Config {
                file: file.to_owned(),
                line: 0,
                message: "Too many recursive configuration includes".into(),
            });
        }
        for (i, line) in split_lines(text).iter().enumerate() {
            let src = Source {
                file: file.to_owned(),
                line: i + 1,
            };
            self.lines += 1;
            if self.lines > MAX_LINES {
                return Err(err(
                    &src,
                    "configuration too large (include fan-out); refusing to evaluate",
                ));
            }
            if let Err(e) = self.process_line(opts, line, &src, active, &mut flags, depth) {
                // Collection pass: an error inside a block (a `~user` that does not exist, a
                // nested include too deep, ...) is that block's, as sshd would only hit it for
                // a connection matching the block; the other blocks are still collected.
                match self.collect.as_mut() {
                    Some(c) if c.cur.is_some() => {
                        if let Some(b) = c.cur.and_then(|i| c.blocks.get_mut(i))
                            && b.error.is_none()
                        {
                            b.error = Some(e);
                        }
                    }
                    _ => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// `process_server_config_line_depth()`.
    fn process_line(
        &mut self,
        opts: &mut Opts,
        line: &str,
        src: &Source,
        active: &mut bool,
        inc_flags: &mut u8,
        depth: usize,
    ) -> Result<(), SshdError> {
        // Strip trailing whitespace (and form feeds); the first byte is never stripped.
        let b = line.as_bytes();
        let mut len = b.len();
        while len > 1 && matches!(b[len - 1], b' ' | b'\t' | b'\r' | b'\n' | 0x0c) {
            len -= 1;
        }
        let line = line.get(..len).unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        let Ok((mut keyword, mut rest)) = lex::strdelim(line) else {
            return Ok(());
        };
        if keyword.is_empty() {
            match rest.map(lex::strdelim) {
                Some(Ok((k, r))) => {
                    keyword = k;
                    rest = r;
                }
                _ => return Ok(()),
            }
        }
        if keyword.is_empty() || keyword.starts_with('#') {
            return Ok(());
        }
        let str_rest = match rest {
            Some(r) if !r.is_empty() => r,
            _ => {
                return Err(err(src, format!("no argument after keyword \"{keyword}\"")));
            }
        };
        let Some(kw) = keywords::lookup(&keyword) else {
            return Err(err(src, format!("Bad configuration option: {keyword}")));
        };
        let Ok(argv) = lex::argv_split(str_rest) else {
            return Err(err(src, "invalid quotes"));
        };
        let mut av = Args { v: argv, i: 0 };
        if !*active && kw.flags & MATCH == 0 {
            if self.conn.is_none() && self.collect.is_none() {
                return Err(err(
                    src,
                    format!("Directive '{keyword}' is not allowed within a Match block"),
                ));
            }
            // Pass 2: a global directive that pass 1 already processed.
            return Ok(());
        }
        debug_assert!(kw.flags & (GLOBAL | MATCH) != 0);
        // Collection pass: a directive inside a Match block goes to that block's own option set.
        let block = match &self.collect {
            Some(c) if !matches!(kw.op, Op::Match | Op::Include) => c.cur,
            _ => None,
        };
        let mut line = Directive {
            kw,
            av: &mut av,
            keyword: &keyword,
            str_rest,
            src,
        };
        if let Some(i) = block
            && let Some(b) = self.collect.as_mut().and_then(|c| c.blocks.get_mut(i))
        {
            let mut o = std::mem::take(&mut b.opts);
            let r = self.dispatch(&mut o, &mut line, active, inc_flags, depth);
            if let Some(b) = self.collect.as_mut().and_then(|c| c.blocks.get_mut(i)) {
                b.opts = o;
            }
            return r;
        }
        self.dispatch(opts, &mut line, active, inc_flags, depth)
    }

    /// The second half of `process_server_config_line_depth()`: one directive's effect on `opts`.
    fn dispatch(
        &mut self,
        opts: &mut Opts,
        d: &mut Directive<'_, '_>,
        active: &mut bool,
        inc_flags: &mut u8,
        depth: usize,
    ) -> Result<(), SshdError> {
        let (kw, keyword, str_rest, src) = (d.kw, d.keyword, d.str_rest, d.src);
        let av = &mut *d.av;
        let act = *active;
        let missing = |what: &str| err(src, format!("{keyword} {what}"));

        match kw.op {
            Op::Flag(k) => self.multistate(opts, k, FLAG, av, act, src, keyword)?,
            Op::Multi(k, table) => self.multistate(opts, k, table, av, act, src, keyword)?,
            Op::Int(k) => {
                let v = lex::atoi_err(av.next().as_deref())
                    .map_err(|e| err(src, format!("{keyword} integer value {e}.")))?;
                if act {
                    opts.set_first(k, v.to_string(), src);
                }
            }
            Op::Time(k) => self.parse_time(opts, k, av, act, src)?,
            Op::Filename(k) => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing file name"))?;
                if act && !opts.is_set(k) {
                    let p = self.derelativise(&a, src)?;
                    opts.set_first(k, p, src);
                }
            }
            Op::KeyAlgos(k) => {
                let a = nonempty(av.next()).ok_or_else(|| missing("Missing argument"))?;
                if !a.starts_with('-') && !key_names_valid(strip_mod(&a)) {
                    return Err(err(src, format!("Bad key types '{a}'.")));
                }
                if act {
                    opts.set_first(k, a, src);
                }
            }
            Op::Ciphers | Op::Macs | Op::Kex => {
                let (k, all, what) = match kw.op {
                    Op::Ciphers => ("ciphers", keywords::ALL_CIPHERS, "SSH2 cipher spec"),
                    Op::Macs => ("macs", keywords::ALL_MACS, "SSH2 mac spec"),
                    _ => ("kexalgorithms", keywords::ALL_KEX, "SSH2 KexAlgorithms"),
                };
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if !a.starts_with('-') && !names_valid(strip_mod(&a), all) {
                    return Err(err(src, format!("Bad {what} '{a}'.")));
                }
                // No activep check in sshd: these are global-only.
                opts.set_first(k, a, src);
            }
            Op::GssKex => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if !names_valid(&a, keywords::ALL_GSS_KEX) {
                    return Err(err(src, format!("Bad GSSAPI KexAlgorithms '{a}'.")));
                }
                if act {
                    opts.set_first("gssapikexalgorithms", a, src);
                }
            }
            Op::Port => {
                if opts.count("port") >= MAX_PORTS {
                    return Err(err(src, "too many ports."));
                }
                let a = nonempty(av.next()).ok_or_else(|| err(src, "missing port number."))?;
                match self.a2port(&a) {
                    Some(p) if p > 0 => opts.push("port", p.to_string(), src),
                    _ => return Err(err(src, "Badly formatted port number.")),
                }
            }
            Op::ListenAddress => self.listen_address(opts, av, src)?,
            Op::HostKey | Op::HostCertificate => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing file name."))?;
                if act {
                    let p = self.derelativise(&a, src)?;
                    let k = if kw.op == Op::HostKey {
                        "hostkey"
                    } else {
                        "hostcertificate"
                    };
                    opts.push(k, p, src);
                }
            }
            Op::HostKeyAgent => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing socket name."))?;
                if act && !opts.is_set("hostkeyagent") {
                    let p = if a == "SSH_AUTH_SOCK" {
                        a
                    } else {
                        self.derelativise(&a, src)?
                    };
                    opts.set_first("hostkeyagent", p, src);
                }
            }
            Op::PubkeyAuthOptions => {
                let (mut touch, mut verify) = (false, false);
                while let Some(a) = av.next() {
                    if a.eq_ignore_ascii_case("none") {
                        continue;
                    } else if a.eq_ignore_ascii_case("touch-required") {
                        touch = true;
                    } else if a.eq_ignore_ascii_case("verify-required") {
                        verify = true;
                    } else {
                        return Err(err(src, format!("unsupported {keyword} option {a}")));
                    }
                }
                if act && !opts.is_set("pubkeyauthoptions") {
                    let mut v = Vec::new();
                    if touch {
                        v.push("touch-required".to_owned());
                    }
                    if verify {
                        v.push("verify-required".to_owned());
                    }
                    if v.is_empty() {
                        v.push("none".to_owned());
                    }
                    opts.set("pubkeyauthoptions", v, Some(src.clone()));
                }
            }
            Op::PermitUserEnvironment => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                // Case-sensitive here (strcmp), unlike the multistate options.
                if act && !opts.is_set("permituserenvironment") {
                    opts.set_first("permituserenvironment", a, src);
                }
            }
            Op::RekeyLimit => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let bytes = if a == "default" {
                    0
                } else {
                    let v = lex::scan_scaled(&a)
                        .ok_or_else(|| err(src, format!("Bad {keyword} number '{a}'")))?;
                    if v != 0 && v < 16 {
                        return Err(err(src, format!("{keyword} too small")));
                    }
                    v
                };
                if act {
                    opts.set_first("rekeylimit.bytes", bytes.to_string(), src);
                }
                if av.remaining() > 0 {
                    if av.peek() == Some("none") {
                        av.next();
                    } else {
                        self.parse_time(opts, "rekeylimit.interval", av, act, src)?;
                    }
                }
            }
            Op::LogFacility => {
                let a = av.next().unwrap_or_default();
                let Some(f) = keywords::LOG_FACILITIES
                    .iter()
                    .find(|f| f.eq_ignore_ascii_case(&a))
                else {
                    return Err(err(src, format!("unsupported log facility '{a}'")));
                };
                // No activep check in sshd (global-only keyword).
                opts.set_first("syslogfacility", (*f).to_owned(), src);
            }
            Op::LogLevel => {
                let a = av.next().unwrap_or_default();
                let Some((_, out)) = keywords::LOG_LEVELS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&a))
                else {
                    return Err(err(src, format!("unsupported log level '{a}'")));
                };
                if act {
                    opts.set_first("loglevel", (*out).to_owned(), src);
                }
            }
            Op::LogVerbose | Op::ChannelTimeout => {
                let k = if kw.op == Op::LogVerbose {
                    "logverbose"
                } else {
                    "channeltimeout"
                };
                let first_line = opts.count(k) == 0;
                let mut n = 0;
                while let Some(a) = av.next() {
                    if a.is_empty() && kw.op == Op::LogVerbose {
                        return Err(err(src, format!("keyword {keyword} empty argument")));
                    }
                    if a.eq_ignore_ascii_case("none") {
                        if n > 0 || av.remaining() > 0 {
                            return Err(err(
                                src,
                                format!("keyword {keyword} \"none\" argument must appear alone."),
                            ));
                        }
                    } else if kw.op == Op::ChannelTimeout && !channel_timeout_valid(&a) {
                        return Err(err(src, format!("invalid channel timeout {a}")));
                    }
                    n += 1;
                    if first_line && act {
                        opts.push(k, a, src);
                    }
                }
            }
            Op::Users(k) => {
                while let Some(a) = av.next() {
                    if a.is_empty() || !matching::user_pattern_valid(&a) {
                        return Err(err(src, format!("invalid {keyword} pattern: \"{a}\"")));
                    }
                    if act {
                        opts.push(k, a, src);
                    }
                }
            }
            Op::Groups(k) => {
                while let Some(a) = av.next() {
                    if a.is_empty() {
                        return Err(err(src, format!("empty {keyword} pattern")));
                    }
                    if act {
                        opts.push(k, a, src);
                    }
                }
            }
            Op::Subsystem => {
                if opts.count("subsystem") >= MAX_SUBSYSTEMS {
                    return Err(err(src, "too many subsystems defined."));
                }
                let name = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if !act {
                    av.next();
                } else {
                    let dup = opts.m.get("subsystem").is_some_and(|s| {
                        s.vals
                            .iter()
                            .any(|v| v.split(' ').next() == Some(name.as_str()))
                    });
                    if dup {
                        return Err(err(src, format!("Subsystem '{name}' already defined.")));
                    }
                    let cmd = nonempty(av.next())
                        .ok_or_else(|| err(src, "Missing subsystem command."))?;
                    let mut line = format!("{name} {cmd}");
                    while let Some(a) = av.next() {
                        line.push(' ');
                        line.push_str(&a);
                    }
                    opts.push("subsystem", line, src);
                }
            }
            Op::MaxStartups => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let bad = || err(src, format!("Invalid {keyword} spec."));
                let v = lex::sscanf_ints(&a, 3);
                // sshd writes straight into the options: the last MaxStartups line wins.
                let prev_rate = opts.get1("maxstartups.rate").map(str::to_owned);
                let (begin, rate, max) = match v.as_slice() {
                    [b, r, m] => {
                        if b > m || *r > 100 || *r < 1 {
                            return Err(bad());
                        }
                        (*b, Some(r.to_string()), *m)
                    }
                    [b] => (*b, prev_rate, *b),
                    _ => return Err(bad()),
                };
                if max <= 0 || begin <= 0 {
                    return Err(bad());
                }
                opts.set(
                    "maxstartups.begin",
                    vec![begin.to_string()],
                    Some(src.clone()),
                );
                opts.set("maxstartups.max", vec![max.to_string()], Some(src.clone()));
                if let Some(r) = rate {
                    opts.set("maxstartups.rate", vec![r], Some(src.clone()));
                }
            }
            Op::PerSourceNetBlockSize => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let v = lex::sscanf_ints(&a, 2);
                let ok = match v.as_slice() {
                    [a4, a6] => (0..=32).contains(a4) && (0..=128).contains(a6),
                    [a4] => (0..=32).contains(a4),
                    _ => false,
                };
                if !ok {
                    return Err(err(src, format!("Invalid {keyword} spec.")));
                }
                if act {
                    // With one number sshd stores an uninitialised second value, which is 0 in
                    // practice on this build; mirror what it prints.
                    let v4 = v.first().copied().unwrap_or(0);
                    let v6 = v.get(1).copied().unwrap_or(0);
                    opts.set(
                        "persourcenetblocksize",
                        vec![format!("{v4}:{v6}")],
                        Some(src.clone()),
                    );
                }
            }
            Op::PerSourceMaxStartups => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let v = if a == "none" {
                    "none".to_owned()
                } else {
                    lex::atoi_err(Some(&a))
                        .map_err(|e| err(src, format!("{keyword} integer value {e}.")))?
                        .to_string()
                };
                if act {
                    opts.set("persourcemaxstartups", vec![v], Some(src.clone()));
                }
            }
            Op::AuthorizedKeysFile => {
                let first_line = opts.count("authorizedkeysfile") == 0;
                while let Some(a) = av.next() {
                    if a.is_empty() {
                        return Err(err(src, format!("keyword {keyword} empty argument")));
                    }
                    let p = self.tilde(&a, src)?;
                    if act && first_line {
                        opts.push("authorizedkeysfile", p, src);
                    }
                }
            }
            Op::AuthorizedPrincipalsFile => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if act && !opts.is_set("authorizedprincipalsfile") {
                    let p = self.tilde(&a, src)?;
                    opts.set_first("authorizedprincipalsfile", p, src);
                }
            }
            Op::AcceptEnv => {
                while let Some(a) = av.next() {
                    if a.is_empty() || a.contains('=') {
                        return Err(err(src, "Invalid environment name."));
                    }
                    if act {
                        opts.push("acceptenv", a, src);
                    }
                }
            }
            Op::SetEnv => {
                let first_line = opts.count("setenv") == 0;
                while let Some(a) = av.next() {
                    if a.is_empty() || !a.contains('=') {
                        return Err(err(src, "Invalid environment."));
                    }
                    if !act || !first_line {
                        continue;
                    }
                    let name = a.split('=').next().unwrap_or("");
                    let dup = opts
                        .m
                        .get("setenv")
                        .is_some_and(|s| s.vals.iter().any(|v| v.split('=').next() == Some(name)));
                    if !dup {
                        opts.push("setenv", a, src);
                    }
                }
            }
            Op::PermitTunnel => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if !["no", "point-to-point", "ethernet", "yes"].contains(&a.as_str()) {
                    return Err(err(src, format!("bad {keyword} argument {a}")));
                }
                if act {
                    opts.set_first("permittunnel", a, src);
                }
            }
            Op::Include => self.include(opts, av, src, active, inc_flags, depth, keyword)?,
            Op::Match if self.collect.is_some() => {
                // Collection pass: every block is taken as matching, into a fresh option set.
                // Without a connection only `Match all` evaluates to true.
                let (all, consumed) = self.match_cfg_line(str_rest, None, src)?;
                self.begin_block(str_rest, src, all);
                *active = true;
                *inc_flags &= !MATCH_ONLY;
                if consumed {
                    av.consume();
                }
            }
            Op::Match => {
                let ci = if *inc_flags & NEVERMATCH != 0 {
                    None
                } else {
                    self.conn.as_ref().map(|c| c.spec)
                };
                let (value, consumed) = self.match_cfg_line(str_rest, ci, src)?;
                *active = if *inc_flags & NEVERMATCH != 0 {
                    false
                } else {
                    value
                };
                *inc_flags &= !MATCH_ONLY;
                if consumed {
                    av.consume();
                }
            }
            Op::PermitOpen(k) => self.permit_open(opts, k, av, act, src, keyword)?,
            Op::ForceCommand => {
                let cmd = str_rest.trim_start_matches([' ', '\t', '\r', '\n']);
                if act {
                    opts.set_first("forcecommand", cmd.to_owned(), src);
                }
                av.consume();
            }
            Op::ChrootDirectory => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if act {
                    opts.set_first("chrootdirectory", a, src);
                }
            }
            Op::SecurityKeyProvider => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                if act && !opts.is_set("securitykeyprovider") {
                    let p = if a.eq_ignore_ascii_case("internal") {
                        a
                    } else {
                        self.derelativise(&a, src)?
                    };
                    opts.set_first("securitykeyprovider", p, src);
                }
            }
            Op::IpQos => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let bad = |v: &str| err(src, format!("Bad {keyword} value: {v}"));
                let v1 = parse_ipqos(&a).ok_or_else(|| bad(&a))?;
                let v2 = match av.next() {
                    None => v1,
                    Some(b) => parse_ipqos(&b).ok_or_else(|| bad(&b))?,
                };
                if act {
                    // Last value wins: sshd assigns without checking for a previous value.
                    opts.set(
                        "ipqos",
                        vec![iptos2str(v1), iptos2str(v2)],
                        Some(src.clone()),
                    );
                }
            }
            Op::VersionAddendum => {
                let v = str_rest.trim_start_matches([' ', '\t', '\r', '\n']);
                if v.contains('\r') {
                    return Err(err(src, format!("Invalid {keyword} argument")));
                }
                if act {
                    let v = if v.eq_ignore_ascii_case("none") {
                        "none"
                    } else {
                        v
                    };
                    opts.set_first("versionaddendum", v.to_owned(), src);
                }
                av.consume();
            }
            Op::Command(k) => {
                let v = str_rest.trim_start_matches([' ', '\t', '\r', '\n']);
                if !v.starts_with('/') && !v.eq_ignore_ascii_case("none") {
                    return Err(err(src, format!("{keyword} must be an absolute path")));
                }
                // sshd checks AuthorizedKeysCommand's slot for both keywords (a servconf.c
                // quirk): once AuthorizedKeysCommand is set, AuthorizedPrincipalsCommand is
                // ignored, and before that the last AuthorizedPrincipalsCommand wins.
                if act && !opts.is_set("authorizedkeyscommand") {
                    opts.set(k, vec![v.to_owned()], Some(src.clone()));
                }
                av.consume();
            }
            Op::LocalUser(k) => {
                let a = nonempty(av.next())
                    .ok_or_else(|| err(src, format!("missing {keyword} argument.")))?;
                if act {
                    opts.set_first(k, a, src);
                }
            }
            Op::AuthenticationMethods => {
                let first_line = opts.count("authenticationmethods") == 0;
                let (mut seen_any, mut parsed) = (false, false);
                while let Some(a) = av.next() {
                    if a == "any" {
                        if opts.count("authenticationmethods") > 0 {
                            return Err(err(
                                src,
                                format!("\"any\" must appear alone in {keyword}"),
                            ));
                        }
                        seen_any = true;
                    } else if seen_any {
                        return Err(err(src, format!("\"any\" must appear alone in {keyword}")));
                    } else if !auth_methods_valid(&a) {
                        return Err(err(src, format!("invalid {keyword} method list.")));
                    }
                    parsed = true;
                    if first_line && act {
                        opts.push("authenticationmethods", a, src);
                    }
                }
                if !parsed {
                    return Err(err(src, format!("no {keyword} specified")));
                }
            }
            Op::StreamLocalBindMask => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let v = match lex::strtol_base(&a, 8) {
                    Some((v, _)) if (0..=0o777).contains(&v) => v,
                    _ => return Err(err(src, format!("Invalid {keyword}."))),
                };
                if act {
                    opts.set(
                        "streamlocalbindmask",
                        vec![format!("0{v:o}")],
                        Some(src.clone()),
                    );
                }
            }
            Op::FingerprintHash => {
                let a = nonempty(av.next()).ok_or_else(|| missing("missing argument."))?;
                let name = match a.to_ascii_lowercase().as_str() {
                    "md5" => "MD5",
                    "sha1" => "SHA1",
                    "sha256" => "SHA256",
                    "sha384" => "SHA384",
                    "sha512" => "SHA512",
                    _ => {
                        return Err(err(src, format!("Invalid {keyword} algorithm \"{a}\".")));
                    }
                };
                if act {
                    opts.set("fingerprinthash", vec![name.to_owned()], Some(src.clone()));
                }
            }
            Op::RDomain => {
                // Debian's sshd is built without routing-domain support.
                return Err(err(src, "setting RDomain not supported on this platform."));
            }
            Op::UnusedConnectionTimeout => {
                if av.peek().is_some_and(|a| a.eq_ignore_ascii_case("none")) {
                    av.next();
                    if act {
                        // Assigned unconditionally by sshd: a later "none" overrides.
                        opts.set(
                            "unusedconnectiontimeout",
                            vec!["0".into()],
                            Some(src.clone()),
                        );
                    }
                } else {
                    self.parse_time(opts, "unusedconnectiontimeout", av, act, src)?;
                }
            }
            Op::Deprecated | Op::Unsupported | Op::Ignore => av.consume(),
        }
        if av.remaining() > 0 {
            return Err(err(
                src,
                format!("keyword {keyword} extra arguments at end of line"),
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn multistate(
        &mut self,
        opts: &mut Opts,
        k: &'static str,
        table: &[(&str, &str)],
        av: &mut Args,
        act: bool,
        src: &Source,
        _keyword: &str,
    ) -> Result<(), SshdError> {
        let a = nonempty(av.next()).ok_or_else(|| err(src, "missing argument."))?;
        let Some((_, out)) = table.iter().find(|(n, _)| n.eq_ignore_ascii_case(&a)) else {
            return Err(err(src, format!("unsupported option \"{a}\".")));
        };
        if act {
            opts.set_first(k, (*out).to_owned(), src);
        }
        Ok(())
    }

    fn parse_time(
        &mut self,
        opts: &mut Opts,
        k: &'static str,
        av: &mut Args,
        act: bool,
        src: &Source,
    ) -> Result<(), SshdError> {
        let a = nonempty(av.next()).ok_or_else(|| err(src, "missing time value."))?;
        let v = lex::convtime(&a).ok_or_else(|| err(src, "invalid time value."))?;
        if act {
            opts.set_first(k, v.to_string(), src);
        }
        Ok(())
    }

    fn listen_address(
        &mut self,
        opts: &mut Opts,
        av: &mut Args,
        src: &Source,
    ) -> Result<(), SshdError> {
        let arg = nonempty(av.next()).ok_or_else(|| err(src, "missing address"))?;
        let bare_v6 = !arg.contains('[')
            && arg
                .find(':')
                .is_some_and(|i| arg.get(i + 1..).is_some_and(|r| r.contains(':')));
        let (host, port) = if bare_v6 {
            (arg.clone(), 0)
        } else {
            let (h, p) = hpdelim(&arg).ok_or_else(|| err(src, "bad address:port usage"))?;
            let h = cleanhostname(h).to_owned();
            let port = match p {
                None => 0,
                Some(p) => match self.a2port(p) {
                    Some(v) if v > 0 => v,
                    _ => return Err(err(src, "bad port number")),
                },
            };
            (h, port)
        };
        if let Some(a) = av.next() {
            if a != "rdomain" || av.next().is_none() {
                return Err(err(src, "bad ListenAddress syntax"));
            }
            return Err(err(src, "bad routing domain"));
        }
        opts.queued_listen.push((host, port, Some(src.clone())));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn permit_open(
        &mut self,
        opts: &mut Opts,
        k: &'static str,
        av: &mut Args,
        act: bool,
        src: &Source,
        keyword: &str,
    ) -> Result<(), SshdError> {
        let first =
            nonempty(av.next()).ok_or_else(|| err(src, format!("{keyword} missing argument.")))?;
        let first_line = opts.count(k) == 0;
        if first == "any" || first == "none" {
            if act && first_line {
                opts.push(k, first, src);
            }
            return Ok(());
        }
        let mut arg = Some(first);
        while let Some(a) = arg.filter(|a| !a.is_empty()) {
            let (stored, port) = if k == "permitlisten" && !a.contains(':') {
                (format!("*:{a}"), Some(a.clone()))
            } else {
                let (_, p) =
                    hpdelim(&a).ok_or_else(|| err(src, format!("{keyword} missing host")))?;
                (a.clone(), p.map(str::to_owned))
            };
            let port_ok = port.is_some_and(|p| p == "*" || self.a2port(&p).is_some_and(|v| v > 0));
            if !port_ok {
                return Err(err(src, format!("{keyword} bad port number")));
            }
            if act && first_line {
                opts.push(k, stored, src);
            }
            arg = av.next();
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn include(
        &mut self,
        opts: &mut Opts,
        av: &mut Args,
        src: &Source,
        active: &mut bool,
        inc_flags: &mut u8,
        depth: usize,
        keyword: &str,
    ) -> Result<(), SshdError> {
        let mut n = 0;
        while let Some(arg2) = av.next() {
            if arg2.is_empty() {
                return Err(err(src, format!("keyword {keyword} empty argument")));
            }
            n += 1;
            let pattern = if arg2.starts_with('/') || arg2.starts_with('~') {
                arg2.clone()
            } else {
                format!("{SSHDIR}/{arg2}")
            };
            // Included files must not clobber the including file's Match state.
            let oactive = *active;
            let child_flags = if *inc_flags & MATCH_ONLY != 0 {
                MATCH_ONLY
            } else if oactive {
                0
            } else {
                NEVERMATCH
            };
            let cached: Vec<Option<(String, String)>> = self
                .includes
                .iter()
                .filter(|it| it.selector == pattern)
                .map(|it| it.file.clone())
                .collect();
            if !cached.is_empty() {
                for file in cached.into_iter().flatten() {
                    self.parse_child(opts, &file.0, &file.1, child_flags, active, depth + 1)?;
                    *active = oactive;
                }
                *active = oactive;
                continue;
            }
            let paths = self.glob(&pattern);
            if paths.is_empty() {
                self.includes.push(IncludeItem {
                    selector: pattern.clone(),
                    file: None,
                });
            }
            for path in paths {
                self.files_read += 1;
                if self.files_read > MAX_INCLUDED_FILES {
                    return Err(err(src, "too many included files"));
                }
                let text = match self.view.map(|v| v.read_to_string(&path)) {
                    Some(Ok(t)) => t,
                    Some(Err(e)) => {
                        return Err(SshdError::Read {
                            path: path.clone(),
                            message: e.to_string(),
                        });
                    }
                    None => String::new(),
                };
                self.parse_child(opts, &path, &text, child_flags, active, depth + 1)?;
                *active = oactive;
                self.includes.push(IncludeItem {
                    selector: pattern.clone(),
                    file: Some((path, text)),
                });
            }
        }
        if n == 0 {
            return Err(err(src, format!("{keyword} missing filename argument")));
        }
        Ok(())
    }

    /// Reads an included file; in the collection pass the file's lines belong to the including
    /// line's block until the file opens a block of its own, and the including file's block is
    /// current again afterwards (sshd restores the Match state the same way).
    fn parse_child(
        &mut self,
        opts: &mut Opts,
        file: &str,
        text: &str,
        flags: u8,
        active: &mut bool,
        depth: usize,
    ) -> Result<(), SshdError> {
        let saved = self.collect.as_mut().map(|c| {
            let saved = (c.cur, c.base);
            c.base = c.cur;
            saved
        });
        let r = self.parse_depth(opts, file, text, flags, active, depth);
        if let (Some(c), Some((cur, base))) = (self.collect.as_mut(), saved) {
            c.cur = cur;
            c.base = base;
        }
        r
    }

    /// `glob(pattern, 0)` over the view: components with `*?[` are matched against directory
    /// listings (no leading-dot matches, results sorted), the rest must exist.
    fn glob(&self, pattern: &str) -> Vec<String> {
        let Some(view) = self.view else {
            return Vec::new();
        };
        if !pattern.starts_with('/') {
            // "~..." patterns: glob(3) without GLOB_TILDE looks for a relative "~" directory
            // in sshd's working directory; resolve against it the same way.
            return self.glob(&format!("{}/{pattern}", SSHD_CWD.trim_end_matches('/')));
        }
        let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
        let mut cur: Vec<String> = vec![String::new()];
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let mut next = Vec::new();
            let magic = comp.contains(['*', '?', '[']);
            for base in &cur {
                let dir = if base.is_empty() { "/" } else { base.as_str() };
                if magic {
                    let Ok(pat) = glob::Pattern::new(comp) else {
                        // An invalid bracket expression matches literally in glob(3).
                        let p = format!("{base}/{comp}");
                        if view.exists(&p) {
                            next.push(p);
                        }
                        continue;
                    };
                    let opts = glob::MatchOptions {
                        case_sensitive: true,
                        require_literal_separator: true,
                        require_literal_leading_dot: true,
                    };
                    let Ok(mut names) = view.read_dir(dir) else {
                        continue;
                    };
                    names.sort();
                    for name in names {
                        if pat.matches_with(&name, opts) {
                            let p = format!("{base}/{name}");
                            if last || view.metadata(&p).is_ok() {
                                next.push(p);
                            }
                        }
                    }
                } else {
                    let p = format!("{base}/{comp}");
                    if !last || view.symlink_metadata(&p).is_ok() {
                        next.push(p);
                    }
                }
            }
            cur = next;
            if cur.is_empty() {
                break;
            }
        }
        if comps.is_empty() {
            return Vec::new();
        }
        cur.retain(|p| view.symlink_metadata(p).is_ok());
        cur.sort();
        cur
    }

    /// `match_cfg_line()`: Ok((matched, all arguments consumed)).
    fn match_cfg_line(
        &mut self,
        condition: &str,
        ci: Option<&MatchSpec>,
        src: &Source,
    ) -> Result<(bool, bool), SshdError> {
        let bad = || err(src, "Bad Match condition");
        let mut result = true;
        let mut attributes = 0;
        let mut cp: Option<&str> = Some(condition);
        while let Some(c) = cp {
            let Ok((attrib, rest)) = lex::strdelim(c) else {
                cp = None;
                break;
            };
            if attrib.is_empty() {
                cp = rest;
                break;
            }
            cp = rest;
            if attrib.starts_with('#') {
                cp = None;
                break;
            }
            attributes += 1;
            if attrib.eq_ignore_ascii_case("all") {
                let next = match cp {
                    Some(c) => lex::strdelim(c).ok(),
                    None => None,
                };
                if let Some((arg, _)) = &next
                    && (attributes > 1 || (!arg.is_empty() && !arg.starts_with('#')))
                {
                    return Err(bad());
                }
                if attributes > 1 {
                    return Err(bad());
                }
                // "all" makes the block match even in pass 1 (sshd returns 1 without a
                // connection), so global-only keywords are accepted inside `Match all`.
                return Ok((true, true));
            }
            let arg = match cp.map(lex::strdelim) {
                Some(Ok((a, r))) if !a.is_empty() && !a.starts_with('#') => {
                    cp = r;
                    a
                }
                _ => return Err(bad()),
            };
            let a = attrib.to_ascii_lowercase();
            match a.as_str() {
                "user" => match ci.and_then(|c| c.user.as_deref()) {
                    None => result = false,
                    Some(u) => {
                        if matching::match_pattern_list(u, &arg, false) != 1 {
                            result = false;
                        }
                    }
                },
                "group" => match ci.and_then(|c| c.user.clone()) {
                    None => result = false,
                    Some(u) => {
                        if !self.user_in_groups(&u, &arg) {
                            result = false;
                        }
                    }
                },
                "host" => match ci.and_then(|c| c.host.as_deref()) {
                    None => result = false,
                    Some(h) => {
                        if matching::match_hostname(h, &arg) != 1 {
                            result = false;
                        }
                    }
                },
                "address" | "localaddress" => {
                    let addr = ci.and_then(|c| {
                        if a == "address" {
                            c.addr.as_deref()
                        } else {
                            c.laddr.as_deref()
                        }
                    });
                    match addr {
                        None => {
                            if matching::addr_match_list(None, &arg) != 0 {
                                return Err(err(
                                    src,
                                    format!("Invalid Match {a} argument '{arg}'"),
                                ));
                            }
                            result = false;
                        }
                        Some(addr) => match matching::addr_match_list(Some(addr), &arg) {
                            1 => {}
                            -2 => return Err(bad()),
                            _ => result = false,
                        },
                    }
                }
                "localport" => {
                    let Some(port) = self.a2port(&arg) else {
                        return Err(bad());
                    };
                    if let Some(c) = ci {
                        // In test mode sshd aborts when the spec has no lport (it is 0 then).
                        match c.lport {
                            None | Some(0) => {
                                return Err(err(
                                    src,
                                    "'Match LocalPort' in configuration but 'lport' not in \
                                     connection test specification.",
                                ));
                            }
                            Some(l) if l == port => {}
                            Some(_) => result = false,
                        }
                    } else {
                        result = false;
                    }
                }
                "rdomain" => match ci.and_then(|c| c.rdomain.as_deref()) {
                    None => result = false,
                    Some(r) => {
                        if matching::match_pattern_list(r, &arg, false) != 1 {
                            result = false;
                        }
                    }
                },
                _ => return Err(bad()),
            }
        }
        if attributes == 0 {
            return Err(bad());
        }
        Ok((result, cp.is_none_or(str::is_empty)))
    }

    /// `match_cfg_line_group()`: the user's groups (primary gid from passwd plus memberships
    /// from the group file) against the pattern list; a negated match wins.
    fn user_in_groups(&mut self, user: &str, patterns: &str) -> bool {
        let (passwd, groups) = self.accounts();
        let Some(pw) = passwd.iter().find(|p| p.name == user) else {
            return false;
        };
        let mut gids = vec![pw.gid];
        for g in groups {
            if g.members.iter().any(|m| m == &pw.name) {
                gids.push(g.gid);
            }
        }
        let mut found = false;
        for gid in gids {
            let Some(g) = groups.iter().find(|g| g.gid == gid) else {
                continue;
            };
            match matching::match_pattern_list(&g.name, patterns, false) {
                -1 => return false,
                1 => found = true,
                _ => {}
            }
        }
        found
    }
}

/// Reads /etc/passwd and /etc/group of the audited system (missing files: no accounts).
fn load_accounts(view: Option<&dyn SystemView>) -> (Vec<Passwd>, Vec<Group>) {
    let read = |p: &str| {
        view.and_then(|v| v.read_optional(p).ok().flatten())
            .unwrap_or_default()
    };
    let passwd = read("/etc/passwd")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(Passwd {
                name: f[0].to_owned(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_owned(),
            })
        })
        .collect();
    let group = read("/etc/group")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Group {
                name: f[0].to_owned(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect();
    (passwd, group)
}

/// The criteria of a Match line as written, without a trailing comment (sshd stops reading the
/// criteria at a word starting with `#`).
fn criteria_text(rest: &str) -> String {
    let words: Vec<&str> = rest
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .take_while(|w| !w.starts_with('#'))
        .collect();
    words.join(" ")
}

/// `hpdelim()`: splits `host:port` / `[v6]:port`; `None` for malformed input.
fn hpdelim(s: &str) -> Option<(&str, Option<&str>)> {
    let idx = if s.starts_with('[') {
        s.find(']')? + 1
    } else {
        match s.find([':', '/']) {
            Some(i) => i,
            None => s.len(),
        }
    };
    match s.as_bytes().get(idx) {
        None => Some((s, None)),
        Some(b':') => Some((s.get(..idx)?, s.get(idx + 1..))),
        _ => None,
    }
}

fn cleanhostname(h: &str) -> &str {
    if h.len() >= 2 && h.starts_with('[') && h.ends_with(']') {
        &h[1..h.len() - 1]
    } else {
        h
    }
}

fn strip_mod(a: &str) -> &str {
    a.strip_prefix(['+', '^']).unwrap_or(a)
}

/// `ciphers_valid()`/`mac_valid()`/`kex_names_valid()`: every name up to the first empty one
/// must be known (sshd stops at an empty element).
fn names_valid(list: &str, all: &[&str]) -> bool {
    if list.is_empty() {
        return false;
    }
    list.split(',')
        .take_while(|p| !p.is_empty())
        .all(|p| all.contains(&p))
}

/// `sshkey_names_valid2(names, 1)`: names, or wildcard patterns matching some key type.
fn key_names_valid(list: &str) -> bool {
    if list.is_empty() {
        return false;
    }
    list.split(',').take_while(|p| !p.is_empty()).all(|p| {
        keywords::ALL_KEY_ALGS.contains(&p)
            || keywords::ALL_KEY_ALGS
                .iter()
                .any(|k| matching::match_pattern_list(k, p, false) != 0)
    })
}

fn auth_methods_valid(list: &str) -> bool {
    if list.is_empty() {
        return false;
    }
    list.split(',').all(|m| {
        let name = m.split(':').next().unwrap_or("");
        keywords::AUTH_METHODS.contains(&name)
    })
}

/// `parse_timeout()` of ChannelTimeout: `type=interval`.
fn channel_timeout_valid(s: &str) -> bool {
    match s.split_once('=') {
        Some((t, v)) => !t.is_empty() && lex::convtime(v).is_some(),
        None => false,
    }
}

fn parse_ipqos(s: &str) -> Option<i64> {
    if let Some((_, v)) = keywords::IPQOS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
    {
        return Some(*v);
    }
    match lex::strtol_base(s, 0) {
        Some((v, true)) if (0..=255).contains(&v) => i64::try_from(v).ok(),
        _ => None,
    }
}

fn iptos2str(v: i64) -> String {
    keywords::IPQOS
        .iter()
        .find(|(_, x)| *x == v)
        .map_or_else(|| format!("0x{v:02x}"), |(n, _)| (*n).to_owned())
}

/// `kex_assemble_names()`: applies `+`/`-`/`^` to the default list and expands patterns
/// against every supported name. `Err` where sshd aborts.
pub(crate) fn assemble(list: &str, def: &str, all: &[&str]) -> Result<String, String> {
    if list.is_empty() {
        return Ok(def.to_owned());
    }
    let list = if let Some(rest) = list.strip_prefix('+') {
        names_cat(def, rest)
    } else if let Some(rest) = list.strip_prefix('-') {
        return Ok(def
            .split(',')
            .filter(|d| matching::match_pattern_list(d, rest, false) != 1)
            .collect::<Vec<_>>()
            .join(","));
    } else if let Some(rest) = list.strip_prefix('^') {
        names_cat(rest, def)
    } else {
        list.to_owned()
    };
    let mut ret = String::new();
    for cp in list.split(',') {
        if cp.starts_with('!') {
            return Err(format!("negated algorithm pattern '{cp}' not supported"));
        }
        let matching: Vec<&str> = all
            .iter()
            .copied()
            .filter(|a| matching::match_pattern_list(a, cp, false) == 1)
            .collect();
        ret = names_cat(&ret, &matching.join(","));
    }
    if ret.is_empty() {
        return Err(format!("empty algorithm list after applying '{list}'"));
    }
    Ok(ret)
}

/// `kex_names_cat()`: appends the names of `b` not already in `a`.
fn names_cat(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_owned();
    }
    if b.is_empty() {
        return a.to_owned();
    }
    let mut ret = a.to_owned();
    for p in b.split(',') {
        if p.is_empty() {
            break;
        }
        if ret.split(',').any(|x| x == p) {
            continue;
        }
        ret.push(',');
        ret.push_str(p);
    }
    ret
}

/// The algorithm slots: (slot, default list, all names).
pub(crate) const ALGO_SLOTS: &[(&str, &str, &[&str])] = &[
    ("ciphers", keywords::DEFAULT_CIPHERS, keywords::ALL_CIPHERS),
    ("macs", keywords::DEFAULT_MACS, keywords::ALL_MACS),
    ("kexalgorithms", keywords::DEFAULT_KEX, keywords::ALL_KEX),
    (
        "hostkeyalgorithms",
        keywords::DEFAULT_KEY_ALGS,
        keywords::ALL_KEY_ALGS,
    ),
    (
        "hostbasedacceptedalgorithms",
        keywords::DEFAULT_KEY_ALGS,
        keywords::ALL_KEY_ALGS,
    ),
    (
        "pubkeyacceptedalgorithms",
        keywords::DEFAULT_KEY_ALGS,
        keywords::ALL_KEY_ALGS,
    ),
    (
        "casignaturealgorithms",
        keywords::DEFAULT_SIG_ALGS,
        keywords::ALL_SIG_ALGS,
    ),
];

fn assemble_all(o: &mut Opts, only_raw_from_match: bool) -> Result<(), SshdError> {
    for (k, def, all) in ALGO_SLOTS {
        let (cur, src, raw) = match o.m.get(*k) {
            Some(s) => (
                s.vals.first().cloned().unwrap_or_default(),
                s.src.clone(),
                s.raw_from_match,
            ),
            None => (String::new(), None, false),
        };
        if only_raw_from_match && !raw && o.is_set(k) {
            // Already assembled: assembling again only matters for an empty list.
            if !cur.is_empty() {
                continue;
            }
        }
        let v = assemble(&cur, def, all).map_err(|message| match &src {
            Some(s) => err(s, message),
            None => SshdError::Config {
                file: String::new(),
                line: 0,
                message,
            },
        })?;
        o.set(k, vec![v], src);
    }
    Ok(())
}

/// `process_queued_listen_addrs()` + the ListenAddress default of `fill_default_server_options`:
/// turns queued addresses into the printed `host:port` lines. Numeric addresses are expanded
/// like getaddrinfo does; host names are looked up in the audited system's /etc/hosts (glibc's
/// "files" source). A name /etc/hosts does not know is kept as written: sshd would ask DNS,
/// which an offline audit cannot.
pub(crate) fn process_listen(o: &mut Opts, view: Option<&dyn SystemView>) -> Result<(), SshdError> {
    if !o.is_set("port") {
        o.set("port", vec!["22".into()], None);
    }
    o.default("addressfamily", "any");
    let af = o.get1("addressfamily").unwrap_or("any").to_owned();
    let ports: Vec<String> = o.m.get("port").map(|s| s.vals.clone()).unwrap_or_default();
    let hosts = view
        .and_then(|v| v.read_optional("/etc/hosts").ok().flatten())
        .unwrap_or_default();
    let family_ok = |ip: &IpAddr| match ip {
        IpAddr::V6(_) => af != "inet",
        IpAddr::V4(_) => af != "inet6",
    };
    let fmt = |ip: &IpAddr, port: &str| match ip {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    };
    let mut lines = Vec::new();
    let mut src = None;
    let queued = std::mem::take(&mut o.queued_listen);
    for (host, port, qsrc) in &queued {
        src = src.or_else(|| qsrc.clone());
        let batch: Vec<String> = if *port > 0 {
            vec![port.to_string()]
        } else {
            ports.clone()
        };
        let addrs: Option<Vec<IpAddr>> = match matching::parse_addr(host) {
            Some(ip) => Some(vec![ip]),
            None => {
                let found = hosts_lookup(&hosts, host);
                (!found.is_empty()).then_some(found)
            }
        };
        for p in batch {
            match &addrs {
                None => lines.push(format!("{host}:{p}")),
                Some(addrs) => {
                    let ok: Vec<&IpAddr> = addrs.iter().filter(|ip| family_ok(ip)).collect();
                    if ok.is_empty() {
                        let s = qsrc.clone().unwrap_or(Source {
                            file: String::new(),
                            line: 0,
                        });
                        return Err(err(&s, format!("bad addr or host: {host}")));
                    }
                    // sshd prints each getaddrinfo batch in reverse order.
                    lines.extend(ok.iter().rev().map(|ip| fmt(ip, &p)));
                }
            }
        }
    }
    if queued.is_empty() {
        for p in &ports {
            // getaddrinfo(NULL, AI_PASSIVE) yields 0.0.0.0 then ::, printed in reverse.
            if af != "inet" {
                lines.push(format!("[::]:{p}"));
            }
            if af != "inet6" {
                lines.push(format!("0.0.0.0:{p}"));
            }
        }
    }
    o.set("listenaddress", lines, src);
    Ok(())
}

/// Addresses of `name` in an /etc/hosts text, in file order, without duplicates.
fn hosts_lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_whitespace();
        let Some(ip) = f.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
            continue;
        };
        if f.any(|n| n.eq_ignore_ascii_case(name)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// `fill_default_server_options()` with this Debian build's compiled-in defaults.
pub(crate) fn fill_defaults(o: &mut Opts) -> Result<(), SshdError> {
    const DEFAULTS: &[(&str, &str)] = &[
        ("usepam", "no"),
        ("pidfile", "/run/sshd.pid"),
        ("modulifile", "/etc/ssh/moduli"),
        ("logingracetime", "120"),
        ("permitrootlogin", "without-password"),
        ("ignorerhosts", "yes"),
        ("ignoreuserknownhosts", "no"),
        ("printmotd", "yes"),
        ("printlastlog", "yes"),
        ("x11forwarding", "no"),
        ("x11displayoffset", "10"),
        ("x11uselocalhost", "yes"),
        ("xauthlocation", "/usr/bin/xauth"),
        ("permittty", "yes"),
        ("permituserrc", "yes"),
        ("strictmodes", "yes"),
        ("tcpkeepalive", "yes"),
        ("syslogfacility", "AUTH"),
        ("loglevel", "INFO"),
        ("hostbasedauthentication", "no"),
        ("hostbasedusesnamefrompacketonly", "no"),
        ("pubkeyauthentication", "yes"),
        ("pubkeyauthoptions", "none"),
        ("kerberosauthentication", "no"),
        ("kerberosorlocalpasswd", "yes"),
        ("kerberosticketcleanup", "yes"),
        ("gssapiauthentication", "no"),
        ("gssapicleanupcredentials", "yes"),
        ("gssapikeyexchange", "no"),
        ("gssapistrictacceptorcheck", "yes"),
        ("gssapistorecredentialsonrekey", "no"),
        ("gssapikexalgorithms", keywords::DEFAULT_GSS_KEX),
        ("passwordauthentication", "yes"),
        ("kbdinteractiveauthentication", "yes"),
        ("permitemptypasswords", "no"),
        ("permituserenvironment", "no"),
        ("compression", "yes"),
        ("rekeylimit.bytes", "0"),
        ("rekeylimit.interval", "0"),
        ("allowtcpforwarding", "yes"),
        ("allowstreamlocalforwarding", "yes"),
        ("allowagentforwarding", "yes"),
        ("gatewayports", "no"),
        ("maxstartups.max", "100"),
        ("maxstartups.rate", "30"),
        ("maxstartups.begin", "10"),
        ("persourcemaxstartups", "none"),
        ("persourcenetblocksize", "32:128"),
        ("maxauthtries", "6"),
        ("maxsessions", "10"),
        ("usedns", "no"),
        ("clientaliveinterval", "0"),
        ("clientalivecountmax", "3"),
        ("permittunnel", "no"),
        ("ipqos", "lowdelay throughput"),
        ("versionaddendum", "none"),
        ("streamlocalbindmask", "0177"),
        ("streamlocalbindunlink", "no"),
        ("fingerprinthash", "SHA256"),
        ("disableforwarding", "no"),
        ("exposeauthinfo", "no"),
        ("securitykeyprovider", "internal"),
        ("requiredrsasize", "1024"),
        ("unusedconnectiontimeout", "0"),
    ];
    if !o.is_set("hostkey") {
        o.set(
            "hostkey",
            vec![
                "/etc/ssh/ssh_host_rsa_key".into(),
                "/etc/ssh/ssh_host_ecdsa_key".into(),
                "/etc/ssh/ssh_host_ed25519_key".into(),
            ],
            None,
        );
    }
    for (k, v) in DEFAULTS {
        if *k == "ipqos" {
            if !o.is_set(k) {
                o.set(k, vec!["lowdelay".into(), "throughput".into()], None);
            }
            continue;
        }
        o.default(k, v);
    }
    if !o.is_set("authorizedkeysfile") {
        o.set(
            "authorizedkeysfile",
            vec![
                ".ssh/authorized_keys".into(),
                ".ssh/authorized_keys2".into(),
            ],
            None,
        );
    }
    assemble_all(o, false)?;
    // CLEAR_ON_NONE leaves a NULL in the array, which glibc's printf prints as "(null)".
    for k in ["hostkey", "hostcertificate"] {
        if let Some(s) = o.m.get_mut(k) {
            for v in &mut s.vals {
                if v.eq_ignore_ascii_case("none") {
                    *v = "(null)".to_owned();
                }
            }
        }
    }
    // CLEAR_ON_NONE_ARRAY: a lone "none"/"any" empties the list.
    for (k, none) in [("channeltimeout", "none"), ("authenticationmethods", "any")] {
        if o.m
            .get(k)
            .is_some_and(|s| s.vals.len() == 1 && s.vals[0].eq_ignore_ascii_case(none))
        {
            o.m.remove(k);
        }
    }
    Ok(())
}

/// Slots a Match block can override (`copy_set_server_options`, `COPY_MATCH_STRING_OPTS`).
pub(crate) const COPIED: &[&str] = &[
    "passwordauthentication",
    "gssapiauthentication",
    "pubkeyauthentication",
    "pubkeyauthoptions",
    "kerberosauthentication",
    "hostbasedauthentication",
    "hostbasedusesnamefrompacketonly",
    "kbdinteractiveauthentication",
    "permitrootlogin",
    "permitemptypasswords",
    "ignorerhosts",
    "allowtcpforwarding",
    "allowstreamlocalforwarding",
    "allowagentforwarding",
    "disableforwarding",
    "exposeauthinfo",
    "permittunnel",
    "gatewayports",
    "streamlocalbindunlink",
    "x11displayoffset",
    "x11forwarding",
    "x11uselocalhost",
    "permittty",
    "permituserrc",
    "maxsessions",
    "maxauthtries",
    "clientalivecountmax",
    "clientaliveinterval",
    "ipqos",
    "rekeylimit.bytes",
    "rekeylimit.interval",
    "loglevel",
    "requiredrsasize",
    "unusedconnectiontimeout",
    "streamlocalbindmask",
    "banner",
    "trustedusercakeys",
    "revokedkeys",
    "authorizedkeyscommand",
    "authorizedkeyscommanduser",
    "authorizedprincipalsfile",
    "authorizedprincipalscommand",
    "authorizedprincipalscommanduser",
    "hostbasedacceptedalgorithms",
    "pubkeyacceptedalgorithms",
    "casignaturealgorithms",
    "authorizedkeysfile",
    "allowusers",
    "denyusers",
    "allowgroups",
    "denygroups",
    "acceptenv",
    "setenv",
    "authenticationmethods",
    "permitopen",
    "permitlisten",
    "channeltimeout",
    "logverbose",
    "forcecommand",
    "chrootdirectory",
];

/// `copy_set_server_options(dst, src, 0)`.
pub(crate) fn copy_set(dst: &mut Opts, mo: &Opts) -> Result<(), SshdError> {
    for k in COPIED {
        if let Some(s) = mo.m.get(k) {
            let mut s = s.clone();
            s.raw_from_match = ALGO_SLOTS.iter().any(|(a, _, _)| a == k);
            dst.m.insert(k, s);
        }
    }
    assemble_all(dst, true)?;
    for k in ["forcecommand", "chrootdirectory"] {
        if dst.get1(k).is_some_and(|v| v.eq_ignore_ascii_case("none")) {
            dst.m.remove(k);
        }
    }
    Ok(())
}

/// The checks sshd makes after filling defaults and before `-T` prints anything (sshd.c main):
/// a key/principals command needs its user, and some AuthenticationMethods list must consist of
/// enabled methods only.
pub(crate) fn sanity_checks(o: &Opts, file: &str) -> Result<(), SshdError> {
    let fail = |k: &str, message: &str| {
        let src = o.m.get(k).and_then(|s| s.src.clone()).unwrap_or(Source {
            file: file.to_owned(),
            line: 0,
        });
        Err(err(&src, message))
    };
    for (cmd, user, name) in [
        (
            "authorizedkeyscommand",
            "authorizedkeyscommanduser",
            "AuthorizedKeysCommand set without AuthorizedKeysCommandUser",
        ),
        (
            "authorizedprincipalscommand",
            "authorizedprincipalscommanduser",
            "AuthorizedPrincipalsCommand set without AuthorizedPrincipalsCommandUser",
        ),
    ] {
        let set = o.get1(cmd).is_some_and(|v| !v.eq_ignore_ascii_case("none"));
        if set && !o.is_set(user) {
            return fail(cmd, name);
        }
    }
    if let Some(lists) = o.m.get("authenticationmethods")
        && !lists.vals.is_empty()
    {
        let enabled = |m: &str| {
            let flag = match m.split(':').next().unwrap_or("") {
                "none" => return true,
                "publickey" => "pubkeyauthentication",
                "password" => "passwordauthentication",
                "keyboard-interactive" => "kbdinteractiveauthentication",
                "hostbased" => "hostbasedauthentication",
                "gssapi-with-mic" => "gssapiauthentication",
                _ => return false,
            };
            o.get1(flag) == Some("yes")
        };
        if !lists.vals.iter().any(|l| l.split(',').all(enabled)) {
            return fail(
                "authenticationmethods",
                "AuthenticationMethods cannot be satisfied by enabled authentication methods",
            );
        }
    }
    Ok(())
}

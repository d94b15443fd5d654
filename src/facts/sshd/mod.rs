//! sshd effective configuration: what `sshd -T` would print, computed from files alone.
//!
//! Checks about the SSH server (root login, password authentication, weak algorithms, ...) must
//! judge the configuration sshd actually applies, not the text of one file: values come from
//! `Include`d files, the first value wins, `Match` blocks override per connection, aliases and
//! deprecated spellings exist, algorithm lists are edited with `+`/`-`/`^` against compiled-in
//! defaults. This module reproduces sshd's own evaluation (OpenSSH 9.2p1 as built by Debian 12,
//! the reference binary; the grammar is the same for OpenSSH 7.x–10.x) so that hardenctl works on
//! offline images, where sshd cannot be run.
//!
//! On a live host the real `sshd -T` can be run as well ([`run_sshd_t`]) and compared with ours
//! ([`diff`]); a disagreement is a bug in hardenctl and is reported as such.
//!
//! Everything read goes through a [`SystemView`]; the parser never panics on hostile input.
//!
//! Known limits (documented where they matter): `ListenAddress` host names are resolved through
//! the audited system's /etc/hosts only (sshd would also ask DNS; unknown names are kept as
//! written), host keys are not loaded (sshd -T refuses to run when none loads), `RDomain` is
//! rejected as this Linux build does, and only the algorithm names of this build are known.

mod engine;
mod keywords;
mod lex;
mod matching;

use std::fmt::Write as _;

use serde::Serialize;

use crate::system::SystemView;

/// A connection to evaluate `Match` blocks for, like `sshd -T -C user=…,host=…,addr=…`.
/// Unset fields never match (sshd's test mode), except that a `Match LocalPort` without `lport`
/// is an error, as in sshd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MatchSpec {
    pub user: Option<String>,
    pub host: Option<String>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub lport: Option<u16>,
    pub rdomain: Option<String>,
}

impl MatchSpec {
    /// Parses a `-C` specification (`user=alice,addr=10.0.0.1,lport=22`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut m = MatchSpec::default();
        for p in spec.trim().split(',') {
            if p.is_empty() {
                // sshd stops at the first empty element.
                break;
            }
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("Invalid test mode specification {p}"))?;
            let v = v.to_owned();
            match k {
                "user" => m.user = Some(v),
                "host" => m.host = Some(v),
                "addr" => m.addr = Some(v),
                "laddr" => m.laddr = Some(v),
                "rdomain" => m.rdomain = Some(v),
                "lport" => {
                    m.lport =
                        Some(v.parse().map_err(|_| {
                            format!("Invalid port '{v}' in test mode specification")
                        })?);
                }
                _ => return Err(format!("Invalid test mode specification {p}")),
            }
        }
        Ok(m)
    }

    /// The `-C` argument for sshd; `None` when nothing is set.
    pub fn to_spec_string(&self) -> Option<String> {
        let mut parts = Vec::new();
        let fields = [
            ("user", self.user.clone()),
            ("host", self.host.clone()),
            ("addr", self.addr.clone()),
            ("laddr", self.laddr.clone()),
            ("lport", self.lport.map(|p| p.to_string())),
            ("rdomain", self.rdomain.clone()),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

/// Where a value was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub file: String,
    pub line: usize,
}

/// One keyword of the effective configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The `sshd -T` keyword (lower case).
    pub keyword: String,
    /// The value(s) as sshd -T prints them: one per line for keywords printed once per value
    /// (`port`, `hostkey`, `allowusers`, `subsystem`, ...), the space-separated words for list
    /// keywords printed on one line (`authorizedkeysfile`, `ipqos`, `rekeylimit`, ...), otherwise
    /// the single value.
    pub values: Vec<String>,
    /// Where it was set (the first contributing line); `None` for compiled-in defaults.
    pub source: Option<Source>,
}

impl Setting {
    /// The rendered `sshd -T` lines of this setting.
    pub fn lines(&self) -> Vec<String> {
        if is_multiline(&self.keyword) {
            self.values
                .iter()
                .map(|v| format!("{} {v}", self.keyword))
                .collect()
        } else {
            vec![format!("{} {}", self.keyword, self.values.join(" "))]
        }
    }
}

/// Keywords sshd -T prints once per value.
const MULTILINE: &[&str] = &[
    "port",
    "listenaddress",
    "hostkey",
    "hostcertificate",
    "allowusers",
    "denyusers",
    "allowgroups",
    "denygroups",
    "acceptenv",
    "setenv",
    "subsystem",
];

/// Keywords printed as a space-separated list on one line.
const SPLIT: &[&str] = &[
    "authorizedkeysfile",
    "authenticationmethods",
    "logverbose",
    "channeltimeout",
    "permitopen",
    "permitlisten",
    "pubkeyauthoptions",
    "ipqos",
    "rekeylimit",
];

fn is_multiline(k: &str) -> bool {
    MULTILINE.contains(&k)
}

/// The effective server configuration, in `sshd -T` order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SshdEffective {
    pub settings: Vec<Setting>,
    /// Every `Match` block of the configuration (main file and included files, in the order
    /// sshd reads them), with what it sets. Not part of `sshd -T`'s output: empty for a parsed
    /// `sshd -T` text.
    pub match_blocks: Vec<MatchBlock>,
}

/// One `Match` block and the settings it applies.
///
/// `settings` are the keywords the block sets, each rendered exactly as `sshd -T -C SPEC` prints
/// it for a connection `SPEC` that matches this block and no earlier block setting the same
/// keyword: the same value parsing, units and aliases as the global settings, and algorithm
/// lists (`PubkeyAcceptedAlgorithms +ssh-rsa`) assembled as sshd assembles them after a Match
/// (against the compiled-in default list, which is what sshd 9.2 does, not against the global
/// value). Only keywords sshd copies from a Match block into the connection's options are
/// listed; a keyword a Match block may contain but sshd then ignores for the connection is not.
///
/// A top-level `Match all` (`all`) matches every connection, also the blank one `sshd -T`
/// evaluates without `-C`, so its settings are already in [`SshdEffective::settings`]; it is
/// listed for completeness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchBlock {
    /// The criteria as written after `Match` (`Address 10.0.0.0/8`, `User alice Host *.corp`).
    pub criteria: String,
    /// The file and line of the `Match` line.
    pub file: String,
    pub line: usize,
    /// The criteria of the blocks whose `Include` brought this block in, outermost first: the
    /// block applies only to connections that match those too.
    pub within: Vec<String>,
    /// A `Match all` outside any other block: it applies to every connection, and the global
    /// settings already include its effect.
    pub all: bool,
    /// The keywords the block sets, in `sshd -T` order, with the block's lines as sources.
    pub settings: Vec<Setting>,
    /// Keywords of `settings` that never take effect: an earlier top-level `Match all` block,
    /// which every connection matches, sets them first (sshd keeps the first value).
    pub overridden: Vec<String>,
    /// Why sshd would refuse a connection matching this block (the first error its directives
    /// raise when applied, e.g. `AuthorizedKeysFile ~nosuchuser/keys`); `settings` then holds
    /// what the block's earlier lines set.
    pub error: Option<String>,
}

impl MatchBlock {
    /// The block's value for a keyword (any spelling sshd accepts), if it sets it.
    pub fn get(&self, keyword: &str) -> Option<&Setting> {
        let k = keyword.to_ascii_lowercase();
        let k = keywords::output_name(&k).unwrap_or(&k);
        self.settings.iter().find(|s| s.keyword == k)
    }

    /// Whether the block's value for `keyword` can take effect for some connection.
    pub fn is_overridden(&self, keyword: &str) -> bool {
        let k = keyword.to_ascii_lowercase();
        let k = keywords::output_name(&k).unwrap_or(&k);
        self.overridden.iter().any(|o| o == k)
    }

    /// `Match <criteria>`, with the enclosing blocks' criteria when it was included from one.
    pub fn describe(&self) -> String {
        let mut s = format!("Match {}", self.criteria);
        for w in self.within.iter().rev() {
            let _ = write!(s, " (inside Match {w})");
        }
        s
    }
}

impl SshdEffective {
    /// The effective value(s) of a keyword, by its `sshd -T` name or any spelling sshd accepts
    /// (case-insensitive; `ChallengeResponseAuthentication` finds `kbdinteractiveauthentication`).
    /// `None` when sshd -T prints nothing for it (e.g. no `AllowUsers`).
    pub fn get(&self, keyword: &str) -> Option<&Setting> {
        let k = keyword.to_ascii_lowercase();
        let k = keywords::output_name(&k).unwrap_or(&k);
        self.settings.iter().find(|s| s.keyword == k)
    }

    /// Every `Match` block with the settings it applies (see [`MatchBlock`]).
    pub fn match_blocks(&self) -> &[MatchBlock] {
        &self.match_blocks
    }

    /// The configuration as `sshd -T` prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.settings {
            for l in s.lines() {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }
}

/// Why a configuration was rejected or could not be read. Display names the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum SshdError {
    #[error("{file} line {line}: {message}")]
    Config {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Read { path: String, message: String },
}

/// A keyword on which hardenctl and the real sshd disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    pub keyword: String,
    /// Our rendered lines for the keyword (empty: we print nothing).
    pub ours: Vec<String>,
    /// The real sshd's lines.
    pub theirs: Vec<String>,
}

/// Every keyword spelling this sshd accepts (lower case, aliases and deprecated ones included),
/// with whether it is allowed inside a `Match` block.
pub fn keywords() -> impl Iterator<Item = (&'static str, bool)> {
    keywords::KEYWORDS
        .iter()
        .map(|k| (k.name, k.flags & keywords::MATCH != 0))
}

/// Computes the effective configuration of `config_path` for the connection `spec`, like
/// `sshd -T -f config_path -C spec`.
pub fn effective(
    view: &dyn SystemView,
    config_path: &str,
    spec: &MatchSpec,
) -> Result<SshdEffective, SshdError> {
    let text = view
        .read_to_string(config_path)
        .map_err(|e| SshdError::Read {
            path: config_path.to_owned(),
            message: e.to_string(),
        })?;
    evaluate(Some(view), config_path, &text, spec)
}

/// Parses one configuration text on its own (no includes are followed, no accounts are known):
/// the entry point for fuzzing. Returns the effective configuration without a connection.
pub fn parse_config_text(text: &str, file: &str) -> Result<SshdEffective, SshdError> {
    evaluate(None, file, text, &MatchSpec::default())
}

fn evaluate(
    view: Option<&dyn SystemView>,
    file: &str,
    text: &str,
    spec: &MatchSpec,
) -> Result<SshdEffective, SshdError> {
    let mut parser = engine::Parser::new(view);
    // Pass 1: global settings; Match blocks only syntax-checked.
    let mut opts = engine::Opts::default();
    let mut active = true;
    parser.parse_depth(&mut opts, file, text, 0, &mut active, 0)?;
    engine::process_listen(&mut opts, view)?;
    engine::fill_defaults(&mut opts)?;
    engine::sanity_checks(&opts, file)?;
    let global = opts.clone();
    // Pass 2: Match blocks for the connection, into a fresh option set copied over pass 1.
    parser.set_conn(Some(engine::Conn { spec }));
    let mut mo = engine::Opts::default();
    let mut active = false;
    parser.parse_depth(&mut mo, file, text, 8, &mut active, 0)?;
    engine::copy_set(&mut opts, &mo)?;
    // Pass 3: every Match block on its own, each copied over pass 1 as pass 2 would copy it.
    parser.start_collect();
    let mut scratch = engine::Opts::default();
    let mut active = false;
    parser.parse_depth(&mut scratch, file, text, 8, &mut active, 0)?;
    let blocks = parser.take_blocks();
    let mut eff = render_opts(&opts);
    eff.match_blocks = match_blocks(&global, &blocks);
    Ok(eff)
}

/// The output keyword of an option slot (`rekeylimit.bytes` is printed as `rekeylimit`).
fn slot_keyword(slot: &str) -> &str {
    slot.split('.').next().unwrap_or(slot)
}

fn match_blocks(global: &engine::Opts, blocks: &[engine::BlockAcc]) -> Vec<MatchBlock> {
    let mut out: Vec<MatchBlock> = Vec::with_capacity(blocks.len());
    // Keywords set by top-level `Match all` blocks so far: they come first for every connection.
    let mut by_all: Vec<&str> = Vec::new();
    for b in blocks {
        let set: Vec<&str> = engine::COPIED
            .iter()
            .filter(|k| b.opts.m.contains_key(**k))
            .map(|k| slot_keyword(k))
            .collect();
        let mut error = b.error.as_ref().map(ToString::to_string);
        // The pass-1 values of the keywords the block touches (a RekeyLimit without an
        // interval keeps the global interval), then the block copied over them as sshd does.
        // Only these slots are cloned and rendered: a hostile file with many blocks stays
        // linear in its size.
        let mut applied = engine::Opts::default();
        for k in engine::COPIED {
            if set.contains(&slot_keyword(k))
                && let Some(slot) = global.m.get(k)
            {
                applied.m.insert(*k, slot.clone());
            }
        }
        let settings = match engine::copy_set(&mut applied, &b.opts) {
            Ok(()) => render_only(&applied, &set),
            Err(e) => {
                error.get_or_insert_with(|| e.to_string());
                Vec::new()
            }
        };
        let mut within = Vec::new();
        let mut p = b.parent;
        // Parents always come before their children; the bound guards against a cycle anyway.
        while let Some(i) = p.filter(|_| within.len() < blocks.len()) {
            match blocks.get(i) {
                Some(pb) => {
                    within.insert(0, pb.criteria.clone());
                    p = pb.parent;
                }
                None => break,
            }
        }
        let all = b.all && b.parent.is_none();
        let overridden = if all {
            Vec::new()
        } else {
            set.iter()
                .filter(|k| by_all.contains(k))
                .map(|k| (*k).to_owned())
                .collect()
        };
        if all {
            // Deduplicated: at most one entry per copied keyword, however many blocks.
            for k in &set {
                if !by_all.contains(k) {
                    by_all.push(k);
                }
            }
        }
        out.push(MatchBlock {
            criteria: b.criteria.clone(),
            file: b.src.file.clone(),
            line: b.src.line,
            within,
            all,
            settings,
            overridden,
            error,
        });
    }
    out
}

/// The `dump_config()` order of this build.
const ORDER: &[&str] = &[
    "port",
    "addressfamily",
    "listenaddress",
    "usepam",
    "logingracetime",
    "x11displayoffset",
    "maxauthtries",
    "maxsessions",
    "clientaliveinterval",
    "clientalivecountmax",
    "requiredrsasize",
    "streamlocalbindmask",
    "unusedconnectiontimeout",
    "permitrootlogin",
    "ignorerhosts",
    "ignoreuserknownhosts",
    "hostbasedauthentication",
    "hostbasedusesnamefrompacketonly",
    "pubkeyauthentication",
    "kerberosauthentication",
    "kerberosorlocalpasswd",
    "kerberosticketcleanup",
    "gssapiauthentication",
    "gssapicleanupcredentials",
    "gssapikeyexchange",
    "gssapistrictacceptorcheck",
    "gssapistorecredentialsonrekey",
    "gssapikexalgorithms",
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "printmotd",
    "printlastlog",
    "x11forwarding",
    "x11uselocalhost",
    "permittty",
    "permituserrc",
    "strictmodes",
    "tcpkeepalive",
    "permitemptypasswords",
    "compression",
    "gatewayports",
    "usedns",
    "allowtcpforwarding",
    "allowagentforwarding",
    "disableforwarding",
    "allowstreamlocalforwarding",
    "streamlocalbindunlink",
    "fingerprinthash",
    "exposeauthinfo",
    "pidfile",
    "modulifile",
    "xauthlocation",
    "ciphers",
    "macs",
    "banner",
    "forcecommand",
    "chrootdirectory",
    "trustedusercakeys",
    "revokedkeys",
    "securitykeyprovider",
    "authorizedprincipalsfile",
    "versionaddendum",
    "authorizedkeyscommand",
    "authorizedkeyscommanduser",
    "authorizedprincipalscommand",
    "authorizedprincipalscommanduser",
    "hostkeyagent",
    "kexalgorithms",
    "casignaturealgorithms",
    "hostbasedacceptedalgorithms",
    "hostkeyalgorithms",
    "pubkeyacceptedalgorithms",
    "loglevel",
    "syslogfacility",
    "authorizedkeysfile",
    "hostkey",
    "hostcertificate",
    "allowusers",
    "denyusers",
    "allowgroups",
    "denygroups",
    "acceptenv",
    "setenv",
    "authenticationmethods",
    "logverbose",
    "channeltimeout",
    "subsystem",
    "maxstartups",
    "persourcemaxstartups",
    "persourcenetblocksize",
    "permittunnel",
    "ipqos",
    "rekeylimit",
    "permitopen",
    "permitlisten",
    "permituserenvironment",
    "pubkeyauthoptions",
];

fn render_opts(o: &engine::Opts) -> SshdEffective {
    SshdEffective {
        settings: render_keys(o, ORDER),
        match_blocks: Vec::new(),
    }
}

/// The settings of `keys` only (in sshd -T order).
fn render_only(o: &engine::Opts, keys: &[&str]) -> Vec<Setting> {
    let order: Vec<&'static str> = ORDER.iter().copied().filter(|k| keys.contains(k)).collect();
    render_keys(o, &order)
}

fn render_keys(o: &engine::Opts, order: &[&'static str]) -> Vec<Setting> {
    let mut settings = Vec::new();
    for &k in order {
        let slot = o.m.get(k);
        let src = slot.and_then(|s| s.src.clone());
        let vals: Vec<String> = slot.map(|s| s.vals.clone()).unwrap_or_default();
        let values = match k {
            "maxstartups" => {
                let g = |p: &str| o.get1(p).unwrap_or("").to_owned();
                let src = o.m.get("maxstartups.begin").and_then(|s| s.src.clone());
                settings.push(Setting {
                    keyword: k.to_owned(),
                    values: vec![format!(
                        "{}:{}:{}",
                        g("maxstartups.begin"),
                        g("maxstartups.rate"),
                        g("maxstartups.max")
                    )],
                    source: src,
                });
                continue;
            }
            "rekeylimit" => {
                let g = |p: &str| o.get1(p).unwrap_or("0").to_owned();
                let src =
                    o.m.get("rekeylimit.bytes")
                        .and_then(|s| s.src.clone())
                        .or_else(|| o.m.get("rekeylimit.interval").and_then(|s| s.src.clone()));
                settings.push(Setting {
                    keyword: k.to_owned(),
                    values: vec![g("rekeylimit.bytes"), g("rekeylimit.interval")],
                    source: src,
                });
                continue;
            }
            "unusedconnectiontimeout" if vals.first().is_some_and(|v| v == "0") => {
                vec!["none".to_owned()]
            }
            "authenticationmethods" | "permitopen" | "permitlisten" if vals.is_empty() => {
                vec!["any".to_owned()]
            }
            "logverbose" | "channeltimeout" if vals.is_empty() => continue,
            _ if is_multiline(k) => {
                if vals.is_empty() {
                    continue;
                }
                vals
            }
            _ if vals.is_empty() => vec!["none".to_owned()],
            _ => vals,
        };
        settings.push(Setting {
            keyword: k.to_owned(),
            values,
            source: src,
        });
    }
    settings
}

/// Parses real `sshd -T` output into the same structure (sources unknown).
pub fn parse_sshd_t(output: &str) -> SshdEffective {
    let mut settings: Vec<Setting> = Vec::new();
    for line in output.lines() {
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        if is_multiline(k)
            && let Some(s) = settings.iter_mut().find(|s| s.keyword == k)
        {
            s.values.push(v.to_owned());
            continue;
        }
        let values = if SPLIT.contains(&k) {
            v.split(' ').map(str::to_owned).collect()
        } else {
            vec![v.to_owned()]
        };
        settings.push(Setting {
            keyword: k.to_owned(),
            values,
            source: None,
        });
    }
    SshdEffective {
        settings,
        match_blocks: Vec::new(),
    }
}

/// Runs the real `sshd -T` on a live system. `None` when the view is not live (or cannot run
/// programs); `Some(Err(stderr))` when sshd rejects the configuration or cannot run.
pub fn run_sshd_t(
    view: &dyn SystemView,
    config_path: &str,
    spec: &MatchSpec,
) -> Option<Result<SshdEffective, String>> {
    if !view.is_live() {
        return None;
    }
    let spec_s = spec.to_spec_string();
    let mut args = vec!["-T", "-f", config_path];
    if let Some(s) = spec_s.as_deref() {
        args.push("-C");
        args.push(s);
    }
    match view.command("sshd", &args)? {
        Err(e) => Some(Err(format!("sshd: {e}"))),
        Ok(out) if out.success() => Some(Ok(parse_sshd_t(&out.stdout))),
        Ok(out) => Some(Err(out.stderr.trim().to_owned())),
    }
}

/// Keywords whose rendered lines differ between `ours` and `theirs` (the real sshd), in sshd -T
/// order; keywords only one side prints are included.
pub fn diff(ours: &SshdEffective, theirs: &SshdEffective) -> Vec<Disagreement> {
    let mut keys: Vec<&str> = theirs.settings.iter().map(|s| s.keyword.as_str()).collect();
    for s in &ours.settings {
        if !keys.contains(&s.keyword.as_str()) {
            keys.push(&s.keyword);
        }
    }
    let lines = |e: &SshdEffective, k: &str| e.get(k).map(Setting::lines).unwrap_or_default();
    keys.into_iter()
        .filter_map(|k| {
            let (a, b) = (lines(ours, k), lines(theirs, k));
            (a != b).then(|| Disagreement {
                keyword: k.to_owned(),
                ours: a,
                theirs: b,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;

/// The main configuration file of the SSH server.
pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";

/// The SSH server as the checks see it: hardenctl's own evaluation of the configuration (global
/// settings, no Match connection, plus every Match block's settings in
/// [`SshdEffective::match_blocks`]), and on a live host the comparison of the global settings
/// with the real `sshd -T` (the blocks are not compared on the live host: that needs a spec per
/// block, which only the differential test writes).
/// A disagreement is hardenctl's bug and is reported, never hidden.
#[derive(Debug, Serialize)]
pub struct SshdFacts {
    pub config_path: String,
    /// `None` when there is no sshd_config (no SSH server to audit).
    pub effective: Option<SshdEffective>,
    /// Keywords on which the real `sshd -T` disagrees with hardenctl (live hosts).
    pub disagreements: Vec<Disagreement>,
    /// Why the comparison with `sshd -T` did not happen on a live host, if it did not.
    pub sshd_t_note: Option<String>,
}

impl SshdFacts {
    pub fn load(view: &dyn SystemView) -> Result<Self, String> {
        let config_path = SSHD_CONFIG.to_owned();
        let mut facts = SshdFacts {
            config_path,
            effective: None,
            disagreements: Vec::new(),
            sshd_t_note: None,
        };
        match view.read_optional(SSHD_CONFIG) {
            Ok(None) => return Ok(facts),
            Ok(Some(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        // Evaluate for a connection to the server's first port, as NixOS's build-time check does
        // (`sshd -T -C lport=…`): with no lport at all, sshd refuses any config that has a
        // `Match LocalPort` block, and the settings for the port that is really served are the
        // ones that matter. The first evaluation finds the port; a second one is needed only when
        // it is not 22.
        let invalid = |e: SshdError| format!("invalid sshd configuration: {e}");
        let mut spec = MatchSpec {
            lport: Some(22),
            ..MatchSpec::default()
        };
        let mut ours = effective(view, SSHD_CONFIG, &spec).map_err(invalid)?;
        let port = ours
            .get("port")
            .and_then(|p| p.values.first())
            .and_then(|p| p.parse::<u16>().ok());
        if let Some(port) = port.filter(|p| *p != 22) {
            spec.lport = Some(port);
            ours = effective(view, SSHD_CONFIG, &spec).map_err(invalid)?;
        }
        match run_sshd_t(view, SSHD_CONFIG, &spec) {
            Some(Ok(theirs)) => facts.disagreements = diff(&ours, &theirs),
            Some(Err(e)) => facts.sshd_t_note = Some(format!("sshd -T could not run: {e}")),
            None => {}
        }
        facts.effective = Some(ours);
        Ok(facts)
    }

    pub fn effective(&self) -> Option<&SshdEffective> {
        self.effective.as_ref()
    }

    /// Our and sshd's lines for `keyword` when they differ.
    pub fn disagreement(&self, keyword: &str) -> Option<(String, String)> {
        self.disagreements
            .iter()
            .find(|d| d.keyword == keyword)
            .map(|d| (d.ours.join("; "), d.theirs.join("; ")))
    }
}

//! Loading policies: strict parsing of each layer with spans, then the merge into a [`Policy`].
//!
//! Every problem in a file is collected (syntax errors, unknown tables and keys, wrong types, bad
//! waivers) and reported together, each naming file, line and column, so an operator fixes a policy
//! in one round instead of one error per run.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::settings::{SETTINGS, Setting};
use super::{Expected, Level, Origin, Policy, Value, ValueType, Waiver};
use crate::checks;

/// A policy file's name (for messages) and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// All problems found while loading a policy.
#[derive(Debug, Clone)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("invalid policy: {e}"))
            .collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for PolicyErrors {}

const MINIMAL: &str = include_str!("../../policies/minimal.toml");
const STANDARD: &str = include_str!("../../policies/standard.toml");
const STRICT: &str = include_str!("../../policies/strict.toml");

/// The embedded policy file of a level.
pub fn embedded_source(level: Level) -> Source {
    let text = match level {
        Level::Minimal => MINIMAL,
        Level::Standard => STANDARD,
        Level::Strict => STRICT,
    };
    Source {
        name: format!("embedded:{level}.toml"),
        text: text.to_owned(),
    }
}

/// Resolves a policy: the embedded level files up to the level, then the site file on top.
///
/// The level is `level` when given, else the site file's `extends`, else `standard`.
pub fn load(level: Option<Level>, site: Option<&Source>) -> Result<Policy, PolicyErrors> {
    let mut errors = Vec::new();
    let site_layer = site.map(|s| parse_layer(s, false, &mut errors));
    let level = level
        .or_else(|| site_layer.as_ref().and_then(|l| l.extends))
        .unwrap_or(Level::Standard);

    // Follow `extends` down from the chosen level, then apply from the bottom up.
    let mut chain = Vec::new();
    let mut next = Some(level);
    while let Some(l) = next {
        if chain.iter().any(|(lv, _)| *lv == l) || chain.len() > Level::ALL.len() {
            errors.push(PolicyError {
                file: embedded_source(l).name,
                line: 1,
                column: 1,
                message: "`extends` forms a cycle".to_owned(),
            });
            break;
        }
        let layer = parse_layer(&embedded_source(l), true, &mut errors);
        next = layer.extends;
        chain.push((l, layer));
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        return Err(PolicyErrors(errors));
    }

    let mut values = BTreeMap::new();
    let mut settings = BTreeMap::new();
    let mut waivers = Vec::new();
    let mut sources = Vec::new();
    let layers = chain.into_iter().rev().map(|(_, l)| l).chain(site_layer);
    for layer in layers {
        sources.push(layer.file.clone());
        for (leaf, expected) in layer.values {
            match leaf {
                Leaf::Check(c) => values.insert(c.id.to_owned(), expected),
                Leaf::Setting(s) => settings.insert(s.path(), expected),
            };
        }
        waivers.extend(layer.waivers);
    }
    // A later layer may switch a check off (`false` for an enable flag or kernel parameter).
    values.retain(|id, e: &mut Expected| {
        checks::find(id).is_some_and(|c| c.key.ty.selects(&e.value))
    });
    let digest = digest(level, &values, &settings, &waivers);
    Ok(Policy {
        level,
        sources,
        digest,
        values,
        settings,
        waivers,
    })
}

/// One parsed file before merging.
struct Layer {
    file: String,
    extends: Option<Level>,
    values: Vec<(Leaf, Expected)>,
    waivers: Vec<Waiver>,
}

/// What a policy leaf holds: the expected value of a check, or a setting of hardenctl's own.
#[derive(Debug, Clone, Copy)]
enum Leaf {
    Check(&'static checks::Check),
    Setting(&'static Setting),
}

impl Leaf {
    fn ty(self) -> ValueType {
        match self {
            Leaf::Check(c) => c.key.ty,
            Leaf::Setting(s) => s.ty,
        }
    }
    fn describe(self) -> String {
        match self {
            Leaf::Check(c) => format!("check {}", c.id),
            Leaf::Setting(s) => format!("setting {}", s.path()),
        }
    }
}

/// Maps `table.key` paths to what they configure, built once from the registry and the settings.
fn schema() -> &'static HashMap<String, Leaf> {
    static SCHEMA: OnceLock<HashMap<String, Leaf>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let checks = checks::registry()
            .iter()
            .map(|c| (c.key.path(), Leaf::Check(c)));
        let settings = SETTINGS.iter().map(|s| (s.path(), Leaf::Setting(s)));
        checks.chain(settings).collect()
    })
}

/// Table paths that exist (`sysctl`, `kernel`, `kernel.cmdline`, ...), for precise messages.
fn known_tables() -> &'static Vec<String> {
    static TABLES: OnceLock<Vec<String>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t: Vec<String> = Vec::new();
        let tables = checks::registry()
            .iter()
            .map(|c| c.key.table)
            .chain(SETTINGS.iter().map(|s| s.table));
        for table in tables {
            let mut prefix = String::new();
            for part in table.split('.') {
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(part);
                if !t.contains(&prefix) {
                    t.push(prefix.clone());
                }
            }
        }
        t
    })
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    errors: &'a mut Vec<PolicyError>,
}

impl Ctx<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        let (line, column) = line_col(self.text, span.start);
        self.errors.push(PolicyError {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }
    fn origin(&self, span: Range<usize>) -> Origin {
        Origin {
            file: self.file.to_owned(),
            line: line_col(self.text, span.start).0,
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[col_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

fn parse_layer(source: &Source, embedded: bool, errors: &mut Vec<PolicyError>) -> Layer {
    let mut layer = Layer {
        file: source.name.clone(),
        extends: None,
        values: Vec::new(),
        waivers: Vec::new(),
    };
    let (doc, syntax_errors) = DeTable::parse_recoverable(&source.text);
    let mut cx = Ctx {
        file: &source.name,
        text: &source.text,
        errors,
    };
    for e in &syntax_errors {
        let span = e.span().unwrap_or(0..0);
        cx.error(span, format!("TOML syntax: {}", e.message().trim()));
    }
    if !syntax_errors.is_empty() {
        return layer;
    }
    for (key, value) in doc.get_ref() {
        let name = key.get_ref().as_ref();
        match name {
            // Level files name themselves; the name is informational and only has to be a level.
            "level" if embedded => {
                expect_level(&mut cx, value);
            }
            "extends" => layer.extends = expect_level(&mut cx, value),
            "description" => {
                if !matches!(value.get_ref(), DeValue::String(_)) {
                    cx.error(value.span(), "`description` must be a string".to_owned());
                }
            }
            "waivers" if !embedded => parse_waivers(&mut cx, value, &mut layer.waivers),
            _ => match value.get_ref() {
                DeValue::Table(t) => walk_table(&mut cx, name, t, &mut layer.values),
                _ => cx.error(
                    key.span(),
                    format!("unknown top-level key `{name}` (expected extends, description, waivers or tables)"),
                ),
            },
        }
    }
    layer
}

fn expect_level(cx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> Option<Level> {
    match value.get_ref() {
        DeValue::String(s) => match Level::parse(s) {
            Some(l) => Some(l),
            None => {
                cx.error(
                    value.span(),
                    format!("unknown level `{s}` (expected minimal, standard or strict)"),
                );
                None
            }
        },
        _ => {
            cx.error(
                value.span(),
                "level must be a string: minimal, standard or strict".to_owned(),
            );
            None
        }
    }
}

fn walk_table(cx: &mut Ctx<'_>, path: &str, table: &DeTable<'_>, out: &mut Vec<(Leaf, Expected)>) {
    if !known_tables()
        .iter()
        .any(|t| t == path || path.starts_with(&format!("{t}.")))
    {
        let span = table.keys().next().map(|k| k.span()).unwrap_or(0..0);
        cx.error(
            span,
            format!("unknown table `[{path}]`{}", suggest_table(path)),
        );
        return;
    }
    for (key, value) in table {
        let full = format!("{path}.{}", key.get_ref());
        match value.get_ref() {
            DeValue::Table(t) if !schema().contains_key(&full) => walk_table(cx, &full, t, out),
            _ => match schema().get(&full) {
                Some(leaf) => match convert(value) {
                    Ok(v) if leaf.ty().admits(&v) => out.push((
                        *leaf,
                        Expected {
                            value: v,
                            origin: cx.origin(key.span()),
                        },
                    )),
                    Ok(_) | Err(_) => cx.error(
                        value.span(),
                        format!(
                            "`{}` must be {}{} ({})",
                            key.get_ref(),
                            leaf.ty().describe(),
                            match leaf.ty() {
                                ValueType::WordList(words) => format!(": {}", words.join(", ")),
                                _ => String::new(),
                            },
                            leaf.describe()
                        ),
                    ),
                },
                None => cx.error(
                    key.span(),
                    format!(
                        "unknown key `{}` in `[{path}]`{}",
                        key.get_ref(),
                        suggest(path, &full)
                    ),
                ),
            },
        }
    }
}

fn convert(value: &Spanned<DeValue<'_>>) -> Result<Value, ()> {
    Ok(match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => {
            Value::Int(i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| ())?)
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Array(items) => Value::List(items.iter().map(convert).collect::<Result<_, _>>()?),
        DeValue::Float(_) | DeValue::Datetime(_) | DeValue::Table(_) => return Err(()),
    })
}

fn parse_waivers(cx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>, out: &mut Vec<Waiver>) {
    let DeValue::Array(items) = value.get_ref() else {
        cx.error(
            value.span(),
            "`waivers` must be an array of tables (`[[waivers]]`)".to_owned(),
        );
        return;
    };
    for item in items.iter() {
        let DeValue::Table(t) = item.get_ref() else {
            cx.error(item.span(), "each waiver must be a table".to_owned());
            continue;
        };
        let mut check = None;
        let mut reason = None;
        let mut owner = None;
        let mut expires = None;
        for (key, v) in t {
            let name = key.get_ref().as_ref();
            let text = match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => None,
            };
            match name {
                "check" | "reason" | "owner" => {
                    let Some(s) = text.filter(|s| !s.trim().is_empty()) else {
                        cx.error(
                            v.span(),
                            format!("waiver `{name}` must be a non-empty string"),
                        );
                        continue;
                    };
                    if name == "check" && checks::find(&s).is_none() {
                        cx.error(
                            v.span(),
                            format!("waiver names unknown check `{s}`{}", suggest_check(&s)),
                        );
                    }
                    *match name {
                        "check" => &mut check,
                        "reason" => &mut reason,
                        _ => &mut owner,
                    } = Some(s);
                }
                "expires" => match parse_date(v.get_ref()) {
                    Some(d) => expires = Some(d),
                    None => cx.error(
                        v.span(),
                        "waiver `expires` must be a date (2027-01-31)".to_owned(),
                    ),
                },
                other => cx.error(
                    key.span(),
                    format!("unknown waiver key `{other}` (check, reason, owner, expires)"),
                ),
            }
        }
        let missing: Vec<&str> = [
            ("check", check.is_none()),
            ("reason", reason.is_none()),
            ("owner", owner.is_none()),
        ]
        .into_iter()
        .filter_map(|(n, m)| m.then_some(n))
        .collect();
        if !missing.is_empty() {
            cx.error(
                item.span(),
                format!("waiver is missing {}", missing.join(", ")),
            );
            continue;
        }
        if let (Some(check), Some(reason), Some(owner)) = (check, reason, owner) {
            out.push(Waiver {
                check,
                reason,
                owner,
                expires,
                origin: cx.origin(item.span()),
            });
        }
    }
}

/// Accepts a TOML local date or a `YYYY-MM-DD` string that is a real calendar date.
fn parse_date(value: &DeValue<'_>) -> Option<String> {
    let text = match value {
        DeValue::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
        DeValue::String(s) => s.to_string(),
        _ => return None,
    };
    text.parse::<jiff::civil::Date>()
        .ok()
        .map(|d| d.to_string())
}

/// A hint for a mistyped key: the closest key of the same table.
fn suggest(table: &str, path: &str) -> String {
    let prefix = format!("{table}.");
    closest(
        path,
        schema()
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with(&prefix)),
    )
    .map(|s| format!(" (did you mean `{}`?)", &s[prefix.len()..]))
    .unwrap_or_default()
}

fn suggest_table(path: &str) -> String {
    closest(path, known_tables().iter().map(String::as_str))
        .map(|s| format!(" (did you mean `[{s}]`?)"))
        .unwrap_or_default()
}

fn suggest_check(id: &str) -> String {
    closest(id, checks::registry().iter().map(|c| c.id))
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// The candidate within a small edit distance of `word`, if any: typos get a hint.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 8))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn digest(
    level: Level,
    values: &BTreeMap<String, Expected>,
    settings: &BTreeMap<String, Expected>,
    waivers: &[Waiver],
) -> String {
    let plain = |m: &BTreeMap<String, Expected>| -> BTreeMap<String, Value> {
        m.iter()
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    };
    let waivers: Vec<(&str, &str, &str, Option<&str>)> = waivers
        .iter()
        .map(|w| {
            (
                w.check.as_str(),
                w.reason.as_str(),
                w.owner.as_str(),
                w.expires.as_deref(),
            )
        })
        .collect();
    let canonical = serde_json::json!({
        "level": level,
        "values": plain(values),
        "settings": plain(settings),
        "waivers": waivers,
    });
    let hash = Sha256::digest(canonical.to_string().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str) -> Source {
        Source {
            name: "site.toml".to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn levels_resolve_and_grow() {
        let min = load(Some(Level::Minimal), None).unwrap();
        let std = load(Some(Level::Standard), None).unwrap();
        let strict = load(Some(Level::Strict), None).unwrap();
        assert!(min.values.len() < std.values.len());
        assert!(std.values.len() < strict.values.len());
        for id in min.values.keys() {
            assert!(std.values.contains_key(id), "standard lost {id}");
        }
        for id in std.values.keys() {
            assert!(strict.values.contains_key(id), "strict lost {id}");
        }
        assert_eq!(strict.sources.len(), 3);
    }

    #[test]
    fn site_overrides_and_extends() {
        let p = load(
            None,
            Some(&site(
                "extends = \"minimal\"\n[sysctl]\n\"kernel.kptr_restrict\" = 2\n",
            )),
        )
        .unwrap();
        assert_eq!(p.level, Level::Minimal);
        let e = p.expected("sysctl.kernel.kptr_restrict").unwrap();
        assert_eq!(e.value, Value::Int(2));
        assert_eq!(
            e.origin,
            Origin {
                file: "site.toml".into(),
                line: 3
            }
        );
    }

    #[test]
    fn unquoted_dotted_sysctl_keys_are_the_same_key() {
        let p = load(
            Some(Level::Minimal),
            Some(&site("[sysctl]\nkernel.kptr_restrict = 2\n")),
        )
        .unwrap();
        assert_eq!(
            p.expected("sysctl.kernel.kptr_restrict").unwrap().value,
            Value::Int(2)
        );
    }

    #[test]
    fn all_errors_reported_with_positions() {
        let text = "[sysctl]\n\"kernel.kptr_restirct\" = 2\n\"kernel.dmesg_restrict\" = \"yes\"\n[sshh]\nfoo = 1\n";
        let errs = load(None, Some(&site(text))).unwrap_err().0;
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].column), (2, 1));
        assert!(
            errs[0]
                .message
                .contains("did you mean `kernel.kptr_restrict`"),
            "{}",
            errs[0]
        );
        assert_eq!(errs[1].line, 3);
        assert!(
            errs[1].message.contains("must be an integer"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].message.contains("unknown table `[sshh]`"),
            "{}",
            errs[2]
        );
        assert!(
            errs[2].message.contains("did you mean `[ssh]`"),
            "{}",
            errs[2]
        );
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let errs = load(None, Some(&site("[sysctl\n"))).unwrap_err().0;
        assert_eq!(errs[0].file, "site.toml");
        assert_eq!(errs[0].line, 1);
        assert!(errs[0].message.starts_with("TOML syntax"));
    }

    #[test]
    fn waivers_are_validated() {
        let text = "[[waivers]]\ncheck = \"ssh.password-authentication\"\nreason = \"legacy\"\nowner = \"ops\"\nexpires = 2030-01-31\n\
                    [[waivers]]\ncheck = \"ssh.pasword-authentication\"\nreason = \"x\"\nowner = \"y\"\nexpires = \"2030-02-30\"\n\
                    [[waivers]]\ncheck = \"ssh.password-authentication\"\n";
        let errs = load(None, Some(&site(text))).unwrap_err().0;
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0]
                .message
                .contains("did you mean `ssh.password-authentication`")
        );
        assert!(errs[1].message.contains("must be a date"));
        assert!(errs[2].message.contains("missing reason, owner"));
        let first = &text[..text[1..].find("[[waivers]]").map_or(0, |i| i + 1)];
        let ok = load(None, Some(&site(first))).unwrap();
        assert_eq!(ok.waivers[0].expires.as_deref(), Some("2030-01-31"));
        assert!(ok.waivers[0].expired_on("2030-02-01"));
        assert!(!ok.waivers[0].expired_on("2030-01-31"));
    }

    #[test]
    fn settings_are_validated_and_merged() {
        let p = load(Some(Level::Strict), None).unwrap();
        assert_eq!(p.setting("logins.threshold"), Some(&Value::Int(20)));
        // `allow` comes from minimal, the others from strict.
        assert_eq!(
            p.settings["logins.allow"].origin.file,
            "embedded:minimal.toml"
        );
        let text = "[logins]\nwindow = \"ten minutes please\"\nallow = [\"10.0.0.0/33\"]\nban-time = \"-5m\"\nthreshhold = 3\n";
        let errs = load(None, Some(&site(text))).unwrap_err().0;
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(errs.len(), 4, "{msgs:?}");
        assert!(msgs[0].contains("`window` must be a duration"), "{msgs:?}");
        assert!(
            msgs[1].contains("`allow` must be an array of IP networks"),
            "{msgs:?}"
        );
        assert!(
            msgs[2].contains("`ban-time` must be a duration"),
            "{msgs:?}"
        );
        assert!(msgs[3].contains("did you mean `threshold`"), "{msgs:?}");
        let ok = load(
            None,
            Some(&site("[logins]\nwindow = \"1h 30m\"\nban-time = \"2d\"\n")),
        )
        .unwrap();
        assert_eq!(
            ok.setting("logins.window"),
            Some(&Value::Str("1h 30m".into()))
        );
        assert_eq!(
            crate::policy::value::parse_duration("2d"),
            Some(std::time::Duration::from_secs(172_800))
        );
    }

    #[test]
    fn false_switches_an_enable_check_off() {
        let p = load(
            Some(Level::Standard),
            Some(&site("[accounts]\nno-empty-passwords = false\n")),
        )
        .unwrap();
        assert!(p.expected("accounts.no-empty-passwords").is_none());
    }

    #[test]
    fn digest_changes_with_values() {
        let a = load(Some(Level::Standard), None).unwrap();
        let b = load(
            Some(Level::Standard),
            Some(&site("[sysctl]\n\"kernel.kptr_restrict\" = 1\n")),
        )
        .unwrap();
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.digest, load(Some(Level::Standard), None).unwrap().digest);
    }
}

//! How current the system's packages are: the facts behind the security update checks.
//!
//! - NixOS: the running system's version label (`24.05.20240612.abcdef0`) carries the date of the
//!   nixpkgs revision it was built from; that date is the age of every package in it. The label is
//!   read from `/run/current-system/nixos-version` (booted), the system profile's (an image), or
//!   `BUILD_ID` in /etc/os-release.
//! - Debian and derivatives: apt knows of updates only as recently as its package lists. Their age
//!   is that of the newest `*Release` file, by its signed `Date:` field: apt stamps each list it
//!   fetches with the archive's Last-Modified time, which is that date, so the field says what the
//!   file time says, and says it the same in a directory, a tarball or any image (the file time
//!   is the fallback for a Release file without a date). On the running host, `apt-get -s upgrade`
//!   lists the upgrades apt already knows of, without touching the network; those from a security
//!   archive are the pending security upgrades.

use serde::Serialize;

use crate::system::{ReadError, SystemView, join};

/// Where apt keeps its package lists.
pub const APT_LISTS: &str = "/var/lib/apt/lists";

/// Files holding a NixOS version label: the running system's, then the boot profile's.
const NIXOS_VERSION_FILES: &[&str] = &[
    "/run/current-system/nixos-version",
    "/nix/var/nix/profiles/system/nixos-version",
];

/// What the age of the installed packages can be measured from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PackageSet {
    /// A NixOS system and its version label; `date` is `None` for a label without one
    /// (a development build such as `24.11pre-git`).
    Nixos {
        label: String,
        #[serde(serialize_with = "display")]
        date: Option<jiff::civil::Date>,
        file: String,
        line: Option<usize>,
    },
    /// apt's package lists: the newest refresh among `lists` Release files (`None` when there are
    /// none: apt never fetched any, or an image builder removed them).
    Apt {
        lists: usize,
        newest: Option<AptRefresh>,
    },
    /// Neither: no way to tell how old the packages are.
    Unknown,
}

/// The most recent evidence that apt refreshed a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AptRefresh {
    /// Seconds since the epoch.
    pub at: i64,
    pub file: String,
    /// The `Date:` line the time came from; `None` for a Release file without one (its
    /// modification time).
    pub date_line: Option<(usize, String)>,
}

/// Upgrades apt already knows of on the running host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Pending {
    /// Not a live Debian-like host: nothing to ask.
    Unavailable { reason: String },
    /// `apt-get -s upgrade` ran: every upgrade it would install, and those from a security archive.
    Known {
        total: usize,
        security: Vec<Upgrade>,
    },
    /// apt could not be asked.
    Failed { reason: String },
}

/// One upgrade apt would install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upgrade {
    pub package: String,
    pub version: String,
    /// The archive it comes from, as apt prints it (`Debian-Security:12/stable-security`).
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateFacts {
    pub package_set: PackageSet,
    pub pending: Pending,
}

impl UpdateFacts {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let package_set = package_set(view)?;
        let pending = pending(view, &package_set);
        Ok(Self {
            package_set,
            pending,
        })
    }
}

fn package_set(view: &dyn SystemView) -> Result<PackageSet, ReadError> {
    // A running host is asked about the running system; an image about the one it boots (its
    // profile), which is what an installed root shows too.
    let mut files = NIXOS_VERSION_FILES.to_vec();
    if !view.is_live() {
        files.reverse();
    }
    for file in files {
        if let Some(text) = view.read_optional(file)? {
            let label = text.trim().to_owned();
            return Ok(PackageSet::Nixos {
                date: label_date(&label),
                label,
                file: file.to_owned(),
                line: None,
            });
        }
    }
    if let Some(text) = view.read_optional("/etc/os-release")?
        && os_release_field(&text, "ID").is_some_and(|(_, id)| id == "nixos")
        && let Some((line, label)) = os_release_field(&text, "BUILD_ID")
    {
        return Ok(PackageSet::Nixos {
            date: label_date(&label),
            label,
            file: "/etc/os-release".to_owned(),
            line: Some(line),
        });
    }
    let names = match view.read_dir(APT_LISTS) {
        Ok(names) => names,
        Err(e) if e.is_not_found() => return Ok(PackageSet::Unknown),
        Err(e) => return Err(e),
    };
    let mut lists = 0;
    let mut newest: Option<AptRefresh> = None;
    for name in names
        .iter()
        .filter(|n| n.ends_with("_InRelease") || n.ends_with("_Release"))
    {
        lists += 1;
        let file = join(APT_LISTS, name);
        let text = view.read_to_string(&file)?;
        let refresh = match release_date(&text) {
            Some((line, text, at)) => AptRefresh {
                at,
                file,
                date_line: Some((line, text)),
            },
            None => match view.modified(&file)? {
                Some(at) => AptRefresh {
                    at,
                    file,
                    date_line: None,
                },
                None => continue,
            },
        };
        if newest.as_ref().is_none_or(|n| refresh.at > n.at) {
            newest = Some(refresh);
        }
    }
    Ok(PackageSet::Apt { lists, newest })
}

fn display<S: serde::Serializer>(
    date: &Option<jiff::civil::Date>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// The date in a NixOS version label: the 8-digit component (`24.05.20240612.abcdef0`).
pub fn label_date(label: &str) -> Option<jiff::civil::Date> {
    let part = label
        .split(|c: char| c == '.' || c.is_whitespace())
        .find(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_digit()))?;
    let year = part[..4].parse().ok()?;
    let month = part[4..6].parse().ok()?;
    let day = part[6..].parse().ok()?;
    jiff::civil::Date::new(year, month, day).ok()
}

/// `KEY=value` from os-release, unquoted, with its line number.
fn os_release_field(text: &str, key: &str) -> Option<(usize, String)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let value = line.trim().strip_prefix(key)?.strip_prefix('=')?;
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Some((i + 1, value.to_owned()))
    })
}

/// The `Date:` field of a Release or InRelease file (in its header, before the checksums), as
/// line number, line and seconds since the epoch.
pub fn release_date(text: &str) -> Option<(usize, String, i64)> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser =
        jiff::fmt::rfc2822::DateTimeParser::new().relaxed_weekday(true);
    text.lines().take(64).enumerate().find_map(|(i, line)| {
        let value = line.strip_prefix("Date:")?.trim();
        // Debian writes `UTC`, which RFC 2822 spells `+0000`.
        let value = value
            .strip_suffix(" UTC")
            .map_or_else(|| value.to_owned(), |v| format!("{v} +0000"));
        let ts = PARSER.parse_timestamp(&value).ok()?;
        Some((i + 1, line.trim().to_owned(), ts.as_second()))
    })
}

fn pending(view: &dyn SystemView, set: &PackageSet) -> Pending {
    if !matches!(set, PackageSet::Apt { .. }) {
        return Pending::Unavailable {
            reason: "not a system managed by apt".to_owned(),
        };
    }
    // `-s` simulates: no lock, no download, no change; apt answers from the lists it has.
    let Some(result) = view.command("apt-get", &["-s", "-o", "Debug::NoLocking=true", "upgrade"])
    else {
        return Pending::Unavailable {
            reason: "pending upgrades are known only to apt on the running system".to_owned(),
        };
    };
    match result {
        Ok(out) if out.success() => parse_simulation(&out.stdout),
        Ok(out) => Pending::Failed {
            reason: format!(
                "apt-get -s upgrade failed: {}",
                out.stderr.lines().last().unwrap_or("no message").trim()
            ),
        },
        Err(e) => Pending::Failed {
            reason: format!("apt-get -s upgrade: {e}"),
        },
    }
}

/// Parses `apt-get -s upgrade`: one `Inst pkg [old] (new origin [arch])` line per upgrade.
pub fn parse_simulation(stdout: &str) -> Pending {
    let mut total = 0;
    let mut security = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("Inst ") else {
            continue;
        };
        total += 1;
        let package = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let Some(open) = rest.find('(') else { continue };
        let inner = rest[open + 1..].trim_end().trim_end_matches(')');
        let mut words = inner.split_whitespace();
        let version = words.next().unwrap_or_default().to_owned();
        let origin: Vec<&str> = words.take_while(|w| !w.starts_with('[')).collect();
        let origin = origin.join(" ");
        // Debian: `Debian-Security:12/stable-security`; Ubuntu: `Ubuntu:22.04/jammy-security`.
        if origin.to_ascii_lowercase().contains("security") {
            security.push(Upgrade {
                package,
                version,
                origin,
            });
        }
    }
    Pending::Known { total, security }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nixos_labels() {
        assert_eq!(
            label_date("24.05.20240612.abcdef0"),
            Some(jiff::civil::date(2024, 6, 12))
        );
        assert_eq!(
            label_date("23.11.20231231.9a333ea (Tapir)"),
            Some(jiff::civil::date(2023, 12, 31))
        );
        assert_eq!(label_date("24.11pre-git"), None);
        assert_eq!(label_date("24.05.20241399.abcdef0"), None);
        assert_eq!(label_date(""), None);
    }

    #[test]
    fn release_dates() {
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nLabel: Debian-Security\nDate: Sat, 09 Nov 2024 10:14:28 UTC\nValid-Until: Sat, 16 Nov 2024 10:14:28 UTC\n";
        let (line, text_line, at) = release_date(text).unwrap();
        assert_eq!(line, 6);
        assert_eq!(text_line, "Date: Sat, 09 Nov 2024 10:14:28 UTC");
        assert_eq!(
            at,
            "2024-11-09T10:14:28Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        );
        assert_eq!(release_date("Date: not a date\n"), None);
        assert_eq!(release_date("Origin: x\n"), None);
    }

    #[test]
    fn simulation_output() {
        let out = "Reading package lists...\nBuilding dependency tree...\n\
            The following packages will be upgraded:\n  libssl3 openssl tzdata\n\
            3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n\
            Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])\n\
            Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian:12.8/stable, Debian-Security:12/stable-security [amd64])\n\
            Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12.8/stable [all])\n\
            Conf libssl3 (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])\n";
        let Pending::Known { total, security } = parse_simulation(out) else {
            panic!("not parsed");
        };
        assert_eq!(total, 3);
        let names: Vec<&str> = security.iter().map(|u| u.package.as_str()).collect();
        assert_eq!(names, ["libssl3", "openssl"]);
        assert_eq!(security[0].version, "3.0.15-1~deb12u1");
        assert_eq!(security[0].origin, "Debian-Security:12/stable-security");
        assert_eq!(
            parse_simulation("0 upgraded, 0 newly installed.\n"),
            Pending::Known {
                total: 0,
                security: vec![]
            }
        );
    }
}

//! The kernel command line: the running one (/proc/cmdline) and the one the boot configuration
//! persists for the next boot.
//!
//! Persisted sources, in the order they are looked for: the boot menu of a live ISO (the view's
//! [`SystemView::boot_cmdline`]), NixOS's `kernel-params` of the current system profile,
//! `/etc/kernel/cmdline` (systemd-boot / UKI), Boot Loader Specification entries under
//! /boot/loader/entries, and GRUB's /etc/default/grub (with /etc/default/grub.d/*.cfg).

use serde::Serialize;

use crate::system::{ReadError, SystemView, join};

/// One `name` or `name=value` parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// A command line and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CmdlineSource {
    pub file: String,
    pub params: Vec<Param>,
}

impl CmdlineSource {
    /// The last occurrence of `name` (the kernel's `__setup` handlers see every occurrence and the
    /// last one normally wins).
    pub fn get(&self, name: &str) -> Option<&Param> {
        let norm = |s: &str| s.replace('-', "_");
        self.params
            .iter()
            .rev()
            .find(|p| norm(&p.name) == norm(name))
    }

    pub fn render(&self) -> String {
        self.params
            .iter()
            .map(|p| match &p.value {
                Some(v) => format!("{}={v}", p.name),
                None => p.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Running and persisted command lines.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cmdline {
    pub running: Option<CmdlineSource>,
    /// Every persisted command line found (all BLS entries count: each must carry a parameter).
    pub persisted: Vec<CmdlineSource>,
}

impl Cmdline {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let running = if view.is_live() {
            let text = view.read_to_string("/proc/cmdline")?;
            Some(CmdlineSource {
                file: "/proc/cmdline".to_owned(),
                params: split(&text),
            })
        } else {
            None
        };
        Ok(Self {
            running,
            persisted: persisted(view)?,
        })
    }
}

fn persisted(view: &dyn SystemView) -> Result<Vec<CmdlineSource>, ReadError> {
    // A live ISO boots with the line of its own boot menu, not with anything inside the system.
    if let Some((file, line)) = view.boot_cmdline() {
        return Ok(vec![CmdlineSource {
            file,
            params: split(&line),
        }]);
    }
    // NixOS: the system profile is what the boot loader starts next; its `kernel-params` holds
    // boot.kernelParams (without init=, which the boot loader adds), and bootspec's boot.json has
    // the same list as JSON.
    for profile in ["/nix/var/nix/profiles/system", "/run/current-system"] {
        let file = format!("{profile}/kernel-params");
        if let Some(text) = view.read_optional(&file)? {
            return Ok(vec![CmdlineSource {
                file,
                params: split(&text),
            }]);
        }
        let file = format!("{profile}/boot.json");
        if let Some(text) = view.read_optional(&file)? {
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| ReadError::Refused {
                    path: file.clone(),
                    reason: format!("invalid bootspec JSON: {e}"),
                })?;
            let params = json["org.nixos.bootspec.v1"]["kernelParams"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                });
            if let Some(line) = params {
                return Ok(vec![CmdlineSource {
                    file,
                    params: split(&line),
                }]);
            }
        }
    }
    if let Some(text) = view.read_optional("/etc/kernel/cmdline")? {
        return Ok(vec![CmdlineSource {
            file: "/etc/kernel/cmdline".to_owned(),
            params: split(&text),
        }]);
    }
    let mut bls = Vec::new();
    for dir in ["/boot/loader/entries", "/efi/loader/entries"] {
        let names = match view.read_dir(dir) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        for name in names.iter().filter(|n| n.ends_with(".conf")) {
            let file = join(dir, name);
            let text = view.read_to_string(&file)?;
            let options: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("options"))
                .filter(|rest| rest.starts_with([' ', '\t']))
                .collect();
            bls.push(CmdlineSource {
                file,
                params: split(&options.join(" ")),
            });
        }
    }
    if !bls.is_empty() {
        return Ok(bls);
    }
    if let Some(text) = view.read_optional("/etc/default/grub")? {
        let mut vars = Vec::new();
        shell_assignments(&text, &mut vars);
        if let Ok(names) = view.read_dir("/etc/default/grub.d") {
            for name in names.iter().filter(|n| n.ends_with(".cfg")) {
                shell_assignments(
                    &view.read_to_string(&join("/etc/default/grub.d", name))?,
                    &mut vars,
                );
            }
        }
        let get = |k: &str| {
            vars.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let line = format!(
            "{} {}",
            get("GRUB_CMDLINE_LINUX"),
            get("GRUB_CMDLINE_LINUX_DEFAULT")
        );
        return Ok(vec![CmdlineSource {
            file: "/etc/default/grub".to_owned(),
            params: split(&line),
        }]);
    }
    Ok(Vec::new())
}

/// Splits a command line into parameters, honouring double quotes (`name="a b"`).
pub fn split(text: &str) -> Vec<Param> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    // Everything after a bare `--` goes to init, not the kernel.
    words
        .into_iter()
        .take_while(|w| w != "--")
        .map(|w| match w.split_once('=') {
            Some((n, v)) => Param {
                name: n.to_owned(),
                value: Some(v.to_owned()),
            },
            None => Param {
                name: w,
                value: None,
            },
        })
        .collect()
}

/// Reads `NAME="value"` lines of a shell fragment, expanding `$NAME`/`${NAME}` of earlier lines,
/// which is all /etc/default/grub files use in practice. Nothing is executed.
fn shell_assignments(text: &str, vars: &mut Vec<(String, String)>) {
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ").trim();
        let Some((name, raw)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let raw = raw.trim();
        let value = if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.split('\'').next()) {
            inner.to_owned()
        } else {
            let inner = raw
                .strip_prefix('"')
                .map_or(raw, |r| r.rsplit_once('"').map_or(r, |(a, _)| a));
            let inner = if raw.starts_with('"') {
                inner
            } else {
                inner.split('#').next().unwrap_or("").trim()
            };
            expand(inner, vars)
        };
        vars.push((name.to_owned(), value));
    }
}

fn expand(s: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(j) => (&b[..j], &b[j + 1..]),
                None => (b, ""),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if let Some((_, v)) = vars.iter().rev().find(|(n, _)| n == name) {
            out.push_str(v);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_params_and_stops_at_init_args() {
        let p =
            split("BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet dyndbg=\"file a.c +p\" -- --init-arg");
        assert_eq!(p.len(), 5);
        assert_eq!(
            p[1],
            Param {
                name: "root".into(),
                value: Some("UUID=x".into())
            }
        );
        assert_eq!(p[4].value.as_deref(), Some("file a.c +p"));
    }

    #[test]
    fn grub_defaults_expand() {
        let mut vars = Vec::new();
        shell_assignments(
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX slab_nomerge\" # c\nGRUB_X='a b'\n",
            &mut vars,
        );
        assert_eq!(
            vars[1],
            ("GRUB_CMDLINE_LINUX".into(), " slab_nomerge".into())
        );
        assert_eq!(vars[2].1, "a b");
    }
}

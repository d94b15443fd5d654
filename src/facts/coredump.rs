//! Core dump restrictions: `hard core 0` limits in /etc/security/limits.conf(.d) and systemd-coredump's
//! `Storage=none` / `ProcessSizeMax=0` in /etc/systemd/coredump.conf(.d).

use serde::Serialize;

use crate::system::{ReadError, SystemView, join};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub file: String,
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CoreDumpConfig {
    /// A `* hard core 0` limit line, if any.
    pub hard_limit_zero: Option<Line>,
    /// systemd-coredump settings that win (`Storage`, `ProcessSizeMax`).
    pub storage: Option<Line>,
    pub process_size_max: Option<Line>,
}

impl CoreDumpConfig {
    pub fn load(view: &dyn SystemView) -> Result<Self, ReadError> {
        let mut cfg = CoreDumpConfig::default();
        for file in with_dropins(view, "/etc/security/limits.conf", "/etc/security/limits.d")? {
            let Some(text) = view.read_optional(&file)? else {
                continue;
            };
            for (i, l) in text.lines().enumerate() {
                let w: Vec<&str> = l
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                if let [domain, "hard", "core", "0"] = w.as_slice()
                    && *domain == "*"
                {
                    cfg.hard_limit_zero = Some(Line {
                        file: file.clone(),
                        line: i + 1,
                        text: l.trim().to_owned(),
                    });
                }
            }
        }
        for file in with_dropins(
            view,
            "/etc/systemd/coredump.conf",
            "/etc/systemd/coredump.conf.d",
        )? {
            let Some(text) = view.read_optional(&file)? else {
                continue;
            };
            for (i, l) in text.lines().enumerate() {
                let Some((k, v)) = l.trim().split_once('=') else {
                    continue;
                };
                let line = Some(Line {
                    file: file.clone(),
                    line: i + 1,
                    text: format!("{}={}", k.trim(), v.trim()),
                });
                match k.trim() {
                    "Storage" => cfg.storage = line,
                    "ProcessSizeMax" => cfg.process_size_max = line,
                    _ => {}
                }
            }
        }
        Ok(cfg)
    }

    /// Value of a coredump.conf setting (`Storage=none` → `none`).
    pub fn value(line: &Option<Line>) -> Option<&str> {
        line.as_ref()
            .and_then(|l| l.text.split_once('='))
            .map(|(_, v)| v)
    }
}

/// The main file followed by its drop-in directory's `*.conf` files in lexical order (later win).
fn with_dropins(view: &dyn SystemView, main: &str, dir: &str) -> Result<Vec<String>, ReadError> {
    let mut files = vec![main.to_owned()];
    match view.read_dir(dir) {
        Ok(names) => files.extend(
            names
                .iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| join(dir, n)),
        ),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    Ok(files)
}

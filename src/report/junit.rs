//! JUnit XML report writer, for CI systems that show test results (GitLab, Jenkins, Azure).
//!
//! A `testsuite` per domain and a `testcase` per check (`classname` = domain, `name` = check id).
//! A failure carries the title as its message and expected, actual, evidence and remediation as
//! text; an error is `<error>`; not-applicable and waived checks are `<skipped>` with the reason or
//! the waiver. Everything from the audited system is escaped: values are attacker-controlled, and
//! characters XML 1.0 cannot carry at all (most control characters) are written as `\xNN`.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Finding, Report};
use crate::checks::Status;

pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut x = String::new();
    let s = &report.summary;
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"hardenctl\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{}\">",
        s.total,
        s.fail,
        s.error,
        s.not_applicable + s.waived,
        esc(&report.generated_at)
    );
    let mut domains: Vec<_> = report.findings.iter().map(|f| f.domain).collect();
    domains.sort();
    domains.dedup();
    for domain in domains {
        let group: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.domain == domain)
            .collect();
        let count = |st: &[Status]| group.iter().filter(|f| st.contains(&f.status)).count();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{}\"{}>",
            domain.as_str(),
            group.len(),
            count(&[Status::Fail]),
            count(&[Status::Error]),
            count(&[Status::NotApplicable, Status::Waived]),
            esc(&report.generated_at),
            report
                .target
                .hostname
                .as_deref()
                .map(|h| format!(" hostname=\"{}\"", esc(h)))
                .unwrap_or_default()
        );
        x.push_str("    <properties>\n");
        for (name, value) in [
            ("target", report.target.path.as_str()),
            ("level", report.policy.level.as_str()),
            ("policy-digest", report.policy.digest.as_str()),
            ("tool-version", report.tool.version.as_str()),
        ] {
            let _ = writeln!(
                x,
                "      <property name=\"{name}\" value=\"{}\"/>",
                esc(value)
            );
        }
        x.push_str("    </properties>\n");
        for f in group {
            testcase(&mut x, f);
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    out.write_all(x.as_bytes())
}

fn testcase(x: &mut String, f: &Finding) {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        f.domain.as_str(),
        esc(&f.id)
    );
    match f.status {
        Status::Pass => {
            let _ = writeln!(x, "{open}/>");
        }
        Status::Fail => {
            let _ = writeln!(
                x,
                "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                esc(&f.title),
                f.severity.as_str(),
                esc(&details(f))
            );
        }
        Status::Error => {
            let _ = writeln!(
                x,
                "{open}>\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                esc(&format!(
                    "{}: {}",
                    f.title,
                    f.reason.as_deref().unwrap_or("could not be evaluated")
                )),
                esc(&details(f))
            );
        }
        Status::NotApplicable => {
            let _ = writeln!(
                x,
                "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                esc(&format!(
                    "not applicable: {}",
                    f.reason.as_deref().unwrap_or("")
                ))
            );
        }
        Status::Waived => {
            let note = f
                .waiver
                .as_ref()
                .map(super::waiver_line)
                .unwrap_or_else(|| "waived".to_owned());
            let _ = writeln!(
                x,
                "{open}>\n      <skipped message=\"{}\">{}</skipped>\n    </testcase>",
                esc(&note),
                esc(&details(f))
            );
        }
    }
}

/// Expected, actual, reason, evidence, waiver and remediation as plain text lines.
fn details(f: &Finding) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "severity: {}", f.severity.as_str());
    let _ = writeln!(t, "expected: {}", f.expected);
    let _ = writeln!(t, "actual: {}", f.actual);
    if let Some(r) = &f.reason {
        let _ = writeln!(t, "reason: {r}");
    }
    for e in &f.evidence {
        let place = e.place();
        let _ = writeln!(
            t,
            "evidence: {place}{}",
            e.text
                .as_deref()
                .map(|s| format!("  {s}"))
                .unwrap_or_default()
        );
    }
    if let Some(w) = &f.waiver {
        let _ = writeln!(t, "{}", super::waiver_line(w));
    }
    let _ = writeln!(t, "fix: {}", f.remediation.generic);
    let _ = write!(t, "nixos: {}", f.remediation.nixos);
    t
}

/// Escapes text for XML 1.0 content and attribute values. Characters XML 1.0 cannot represent
/// (control characters other than tab, newline and carriage return; U+FFFE, U+FFFF) become a
/// visible `\xNN` / `\u{NNNN}` instead of invalid XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as character references so attribute-value normalisation does not turn them
            // into spaces.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            esc("a<b>&\"c' ]]> \u{1}\u{1b}\t\n\u{ffff}"),
            "a&lt;b&gt;&amp;&quot;c&apos; ]]&gt; \\x01\\x1b&#9;&#10;\\u{ffff}"
        );
    }
}

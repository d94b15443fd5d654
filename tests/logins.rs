//! Failed-login recognition against an annotated corpus of sshd (OpenSSH 7.x–10.x, incl.
//! `sshd-session`/`sshd-auth`), PAM, login, su and dropbear lines, with every message that carries
//! a user-controlled field also tried with a forged address in it: the event must blame the address
//! the daemon logged, never the forged one.

use std::net::IpAddr;
use std::path::Path;

use hardenctl::logins::{Event, parse_journal_json, parse_syslog_line};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/logins")
            .join(name),
    )
    .unwrap()
}

fn kind(ev: &Event) -> String {
    serde_json::to_value(ev.kind)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn annotated_corpus() {
    let corpus = fixture("corpus.tsv");
    let mut n = 0;
    for (i, row) in corpus
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = row.splitn(4, '\t').collect();
        let [want_kind, want_ip, want_user, line] = cols[..] else {
            panic!("corpus line {}: 4 columns", i + 1)
        };
        let ev = parse_syslog_line(line)
            .unwrap_or_else(|| panic!("corpus line {}: not recognised: {line}", i + 1));
        assert_eq!(kind(&ev), want_kind, "line {}: {line}", i + 1);
        let want_ip: Option<IpAddr> = (want_ip != "-").then(|| want_ip.parse().unwrap());
        assert_eq!(ev.ip, want_ip, "line {}: {line}", i + 1);
        let want_user = (want_user != "-").then(|| want_user.to_owned());
        assert_eq!(ev.user, want_user, "line {}: {line}", i + 1);
        assert!(ev.time.is_some());
        // Nothing is ever blamed on the forged address the corpus plants in user names.
        assert_ne!(ev.ip, Some("6.6.6.6".parse().unwrap()), "line {}", i + 1);
        n += 1;
    }
    assert!(n >= 45, "{n} corpus lines");
}

#[test]
fn noise_is_not_a_failure() {
    for line in fixture("noise.log").lines() {
        assert_eq!(parse_syslog_line(line), None, "{line}");
    }
}

#[test]
fn weights_count_each_attempt_once() {
    let w = |l: &str| parse_syslog_line(l).unwrap().weight;
    // sshd's own line counts; the PAM line for the same attempt does not.
    assert_eq!(
        w("Nov 27 00:00:01 h sshd[1]: Failed password for root from 203.0.113.5 port 1 ssh2"),
        10
    );
    assert_eq!(
        w(
            "Nov 27 00:00:01 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root"
        ),
        0
    );
    // Other services' PAM failures with a remote host count.
    assert_eq!(
        w(
            "Nov 27 00:00:01 h dovecot[1]: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser= rhost=203.0.113.5 user=x"
        ),
        10
    );
    assert_eq!(
        w("Nov 27 00:00:01 h sshd[1]: Connection closed by 203.0.113.5 port 1 [preauth]"),
        3
    );
    // Nothing without an address can be banned.
    assert_eq!(
        w("Nov 27 00:00:01 h sshd[1]: Failed password for root from host.example port 1 ssh2"),
        0
    );
}

#[test]
fn journal_export_lines() {
    let line = r#"{"__REALTIME_TIMESTAMP":"1795737601000000","SYSLOG_IDENTIFIER":"sshd-session","_COMM":"sshd-session","MESSAGE":"Failed password for invalid user x from 6.6.6.6 port 22 ssh2 from 2001:db8::9 port 4000 ssh2"}"#;
    let ev = parse_journal_json(line).unwrap();
    assert_eq!(ev.ip, Some("2001:db8::9".parse().unwrap()));
    assert_eq!(ev.program, "sshd-session");
    assert_eq!(ev.time.as_deref(), Some("2026-11-27T00:00:01Z"));
    // Messages that are not UTF-8 arrive as byte arrays.
    let bytes: Vec<u8> = b"Invalid user \xff\xfe from 203.0.113.5 port 22".to_vec();
    let line = serde_json::json!({"SYSLOG_IDENTIFIER": "sshd", "MESSAGE": bytes}).to_string();
    let ev = parse_journal_json(&line).unwrap();
    assert_eq!(ev.ip, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(parse_journal_json("{not json"), None);
    assert_eq!(
        parse_journal_json(r#"{"MESSAGE": "Failed password for root from 1.2.3.4 port 1 ssh2"}"#),
        None,
        "no program"
    );
}

proptest::proptest! {
    #[test]
    fn never_panics_on_any_line(s in "\\PC{0,300}") {
        let _ = parse_syslog_line(&s);
        let _ = parse_syslog_line(&format!("Nov 27 00:00:01 h sshd[1]: {s}"));
        let _ = parse_journal_json(&s);
    }

    /// Whatever an attacker puts in the user name, the blamed address is the one sshd appended.
    #[test]
    fn user_names_cannot_redirect_blame(user in "[ -~]{0,80}", a in 1u8..=254, b in 0u8..=255) {
        let real = format!("10.{a}.{b}.1");
        for template in [
            "Failed password for invalid user {U} from {A} port 2222 ssh2",
            "Invalid user {U} from {A} port 2222",
            "Connection closed by invalid user {U} {A} port 2222 [preauth]",
            "Disconnecting invalid user {U} {A} port 2222: Too many authentication failures [preauth]",
            "error: maximum authentication attempts exceeded for invalid user {U} from {A} port 2222 ssh2 [preauth]",
        ] {
            let msg = template.replace("{U}", &user).replace("{A}", &real);
            let line = format!("Nov 27 00:00:01 h sshd[1]: {msg}");
            if let Some(ev) = parse_syslog_line(&line) {
                proptest::prop_assert_eq!(ev.ip, Some(real.parse().unwrap()), "{}", line);
            }
        }
    }
}

mod cli {
    use super::fixture;

    fn hardenctl() -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("hardenctl").unwrap();
        c.env("NO_COLOR", "1");
        c
    }

    #[test]
    fn scan_prints_events_and_offenders() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        let corpus = fixture("corpus.tsv");
        let lines: Vec<&str> = corpus
            .lines()
            .skip(1)
            .filter_map(|l| l.splitn(4, '\t').nth(3))
            .collect();
        std::fs::write(&log, lines.join("\n") + "\n" + &fixture("noise.log")).unwrap();
        let out = hardenctl()
            .args(["logins", "scan", "--format", "json", "--level", "standard"])
            .arg(&log)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let events = rep["events"].as_array().unwrap();
        assert_eq!(events.len(), lines.len());
        let first = &events[0];
        for key in ["file", "line", "time", "ip", "user", "kind", "weight"] {
            assert!(first.get(key).is_some(), "missing {key}: {first}");
        }
        assert_eq!(first["line"], 1);
        assert_eq!(first["file"], log.display().to_string());
        let offenders: Vec<&str> = rep["offenders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["ip"].as_str().unwrap())
            .collect();
        assert!(
            offenders.contains(&"203.0.113.5") && offenders.contains(&"10.0.0.9"),
            "{offenders:?}"
        );
        assert!(
            !offenders.contains(&"6.6.6.6"),
            "a forged address was blamed"
        );
        // Probes alone (7 x 3 points) stay under the standard threshold of 30.
        assert!(!offenders.contains(&"198.51.100.8"), "{offenders:?}");

        // A site allow-list keeps an address from being banned, and says so.
        let site = dir.path().join("site.toml");
        std::fs::write(
            &site,
            "extends = \"standard\"\n[logins]\nallow = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let out = hardenctl()
            .args(["logins", "scan", "--policy"])
            .arg(&site)
            .arg(&log)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("allow-listed, not banned: 10.0.0.9"),
            "{text}"
        );
        assert!(!text.contains("ban 10.0.0.9"), "{text}");
        // Attacker-controlled user names are printed escaped.
        assert!(
            text.contains(r#"user="x from 6.6.6.6 port 22 ssh2""#),
            "{text}"
        );
    }

    #[test]
    fn unreadable_input_is_exit_2_naming_the_file() {
        let out = hardenctl()
            .args(["logins", "scan", "/nonexistent/auth.log"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/nonexistent/auth.log: cannot read"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }
}

/// A flood of one-shot addresses keeps the scanner's state bounded, and cannot push out an
/// address close to the threshold or a banned one.
mod flood {
    use std::fmt::Write as _;
    use std::net::IpAddr;
    use std::time::Duration;

    use hardenctl::logins::scan::{DEFAULT_MAX_TRACKED, Rules, Scanner};

    fn rules() -> Rules {
        Rules {
            threshold: 30,
            window: Duration::from_secs(600),
            ban_time: Duration::from_secs(3600),
            allow: vec![],
        }
    }

    fn failed(log: &mut String, second: u32, ip: &str) {
        let (m, s) = (second / 60, second % 60);
        writeln!(
            log,
            "Nov 27 00:{m:02}:{s:02} h sshd[1]: Failed password for root from {ip} port 2 ssh2"
        )
        .unwrap();
    }

    fn flood(v6: bool) {
        let mut log = String::new();
        // 20 of 30 points: one more failure bans it.
        failed(&mut log, 0, "198.51.100.7");
        failed(&mut log, 1, "198.51.100.7");
        for _ in 0..3 {
            failed(&mut log, 2, "198.51.100.9");
        }
        for i in 0..100_000u32 {
            let ip = if v6 {
                format!("2001:db8:{:x}::{:x}", i >> 16, i & 0xffff)
            } else {
                format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)
            };
            let t = 3 + i / 400;
            let (m, s) = (t / 60, t % 60);
            writeln!(
                log,
                "Nov 27 00:{m:02}:{s:02} h sshd[1]: Connection closed by {ip} port 3 [preauth]"
            )
            .unwrap();
        }
        failed(&mut log, 299, "198.51.100.9");
        failed(&mut log, 300, "198.51.100.7");

        let rules = rules();
        let mut scanner = Scanner::new(&rules);
        let mut events = 0;
        let mut peak = (0, 0);
        // Small reads: lines straddle buffers, as they do when following a log.
        let input = std::io::BufReader::with_capacity(4096, log.as_bytes());
        scanner
            .read("flood.log", input, &mut |_| {
                events += 1;
                Ok(())
            })
            .unwrap();
        let tracked = scanner.tracked();
        peak = (peak.0.max(tracked.windows), peak.1.max(tracked.bytes));
        assert_eq!(events, 100_007);
        assert!(
            tracked.windows <= DEFAULT_MAX_TRACKED,
            "{} windows",
            tracked.windows
        );
        assert_eq!(tracked.banned, 2, "{tracked:?}");
        // 16 (IPv4) or 28 (IPv6) bytes an address (+ 1 control byte) in a table of 65,536
        // buckets, a few hits; the IPv6 flood also has the IPv4 table, sized for its bound.
        let limit = if v6 { 3_500_000 } else { 1_500_000 };
        assert!(tracked.bytes < limit, "{tracked:?}");
        let report = scanner.finish();
        assert!(
            report.evicted >= 100_000 - DEFAULT_MAX_TRACKED,
            "{report:?}"
        );
        let banned: Vec<(IpAddr, usize)> =
            report.offenders.iter().map(|o| (o.ip, o.events)).collect();
        assert_eq!(
            banned,
            [
                ("198.51.100.7".parse().unwrap(), 3),
                ("198.51.100.9".parse().unwrap(), 4)
            ],
            "{peak:?}"
        );
        assert_eq!(
            report.offenders[1].banned_at.as_deref(),
            Some("Nov 27 00:00:02")
        );
    }

    #[test]
    fn ipv4_flood_stays_bounded() {
        flood(false);
    }

    #[test]
    fn ipv6_flood_stays_bounded() {
        flood(true);
    }

    /// A smaller bound evicts earlier, never the address close to the threshold.
    #[test]
    fn near_threshold_outlives_one_shot_addresses() {
        let rules = rules();
        let mut scanner = Scanner::new(&rules).max_tracked(100);
        let mut log = String::new();
        failed(&mut log, 0, "198.51.100.7");
        failed(&mut log, 1, "198.51.100.7");
        for i in 0..10_000u32 {
            failed(
                &mut log,
                2 + i / 100,
                &format!("10.0.{}.{}", i >> 8, i & 255),
            );
        }
        failed(&mut log, 200, "198.51.100.7");
        scanner
            .read("f.log", log.as_bytes(), &mut |_| Ok(()))
            .unwrap();
        assert!(scanner.tracked().windows <= 100);
        let report = scanner.finish();
        assert!(report.evicted >= 9_900, "{report:?}");
        let ips: Vec<String> = report.offenders.iter().map(|o| o.ip.to_string()).collect();
        assert_eq!(ips, ["198.51.100.7"]);
    }
}

/// Lines are the same whatever the read size; a line too long to buffer is counted, not parsed.
#[test]
fn lines_across_reads_and_over_long_lines() {
    use hardenctl::logins::scan::{Rules, Scanner};
    let rules = Rules {
        threshold: 30,
        window: std::time::Duration::from_secs(600),
        ban_time: std::time::Duration::from_secs(3600),
        allow: vec![],
    };
    let corpus = fixture("corpus.tsv");
    let mut log: String = corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.splitn(4, '\t').nth(3))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let long = format!(
        "Nov 27 00:00:01 h sshd[1]: Invalid user {} from 192.0.2.1 port 1\n",
        "x".repeat(2 << 20)
    );
    log.push_str(&long);
    log.push_str("Nov 27 00:00:01 h sshd[1]: Invalid user y from 192.0.2.2 port 1");
    let run = |cap: usize| {
        let mut scanner = Scanner::new(&rules);
        let mut seen = Vec::new();
        let input = std::io::BufReader::with_capacity(cap, log.as_bytes());
        scanner
            .read("a.log", input, &mut |e| {
                seen.push((e.line, e.event));
                Ok(())
            })
            .unwrap();
        (seen, scanner.finish().lines)
    };
    let (whole, lines) = run(64 << 20);
    assert_eq!(lines, log.lines().count());
    let last = whole.last().unwrap();
    assert_eq!(last.0, lines, "the unterminated last line is read");
    assert_eq!(last.1.ip, Some("192.0.2.2".parse().unwrap()));
    assert!(
        whole
            .iter()
            .all(|(_, e)| e.ip != Some("192.0.2.1".parse().unwrap()))
    );
    for cap in [1, 7, 100, 4096] {
        assert_eq!(run(cap), (whole.clone(), lines), "reads of {cap} bytes");
    }
}

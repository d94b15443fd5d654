//! SSH checks end to end on root trees: a hardened server, Debian's stock configuration, drop-ins
//! under sshd's first-value-wins rule, and a broken configuration.

mod common;

use common::{audit_json, base_root, finding, fixture_root, status};

fn ssh_statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["domain"] == "ssh")
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn hardened_sshd_config_passes_strict() {
    let r = fixture_root("hardened");
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    let all = ssh_statuses(&report);
    assert_eq!(all.len(), 25);
    for (id, st) in &all {
        assert_eq!(st, "pass", "{id}: {}", finding(&report, id));
    }
    // Time units are normalised as sshd does, and evidence names the line.
    let lgt = finding(&report, "ssh.login-grace-time");
    assert_eq!(lgt["actual"], "30");
    assert_eq!(lgt["evidence"][0]["file"], "/etc/ssh/sshd_config");
    assert_eq!(lgt["evidence"][0]["line"], 12);
}

#[test]
fn stock_debian_config_fails_with_compiled_in_defaults_as_evidence() {
    let r = base_root();
    r.file(
        "/etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
    );
    let (report, code) = audit_json(r.path(), &["--level", "standard"]);
    assert_eq!(code, 1);
    let pw = finding(&report, "ssh.password-authentication");
    assert_eq!(
        (pw["status"].as_str(), pw["actual"].as_str()),
        (Some("fail"), Some("yes"))
    );
    assert_eq!(pw["evidence"][0]["text"], "compiled-in default: yes");
    let x11 = finding(&report, "ssh.x11-forwarding");
    assert_eq!(x11["evidence"][0]["line"], 4);
    assert_eq!(
        status(&report, "ssh.kbd-interactive-authentication"),
        "pass"
    );
    // Debian's default MAC list includes hmac-sha1 and umac-64: not in the strong set.
    assert_eq!(status(&report, "ssh.macs"), "fail");
    assert_eq!(status(&report, "ssh.ciphers"), "pass");
    assert_eq!(
        finding(&report, "ssh.permit-root-login")["actual"],
        "without-password"
    );
}

#[test]
fn first_value_wins_across_includes() {
    let r = base_root();
    // The drop-in is read first (Include at the top), so its value wins over the main file's.
    r.file(
        "/etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\nPermitRootLogin yes\n",
    )
    .file(
        "/etc/ssh/sshd_config.d/10-hardening.conf",
        "PasswordAuthentication no\n",
    )
    .file(
        "/etc/ssh/sshd_config.d/20-late.conf",
        "PasswordAuthentication yes\nPermitRootLogin no\n",
    );
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    let pw = finding(&report, "ssh.password-authentication");
    assert_eq!(pw["status"], "pass");
    assert_eq!(
        pw["evidence"][0]["file"],
        "/etc/ssh/sshd_config.d/10-hardening.conf"
    );
    let root = finding(&report, "ssh.permit-root-login");
    assert_eq!(root["status"], "pass", "{root}");
    assert_eq!(
        root["evidence"][0]["file"],
        "/etc/ssh/sshd_config.d/20-late.conf"
    );
}

#[test]
fn invalid_config_makes_every_ssh_check_an_error_naming_the_line() {
    let r = base_root();
    r.file(
        "/etc/ssh/sshd_config",
        "PermitRootLogin no\nPasswordAuthentication maybe\n",
    );
    let (report, code) = audit_json(r.path(), &["--level", "minimal"]);
    assert_eq!(code, 1);
    for (id, st) in ssh_statuses(&report) {
        assert_eq!(st, "error", "{id}");
        let reason = finding(&report, &id)["reason"].as_str().unwrap().to_owned();
        assert!(
            reason.contains("/etc/ssh/sshd_config") && reason.contains("line 2"),
            "{reason}"
        );
    }
}

#[test]
fn no_sshd_config_means_not_applicable() {
    let r = base_root();
    let (report, _) = audit_json(r.path(), &["--level", "minimal"]);
    let f = finding(&report, "ssh.permit-empty-passwords");
    assert_eq!(f["status"], "not-applicable");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("/etc/ssh/sshd_config does not exist")
    );
}

const HARDENED: &str = include_str!("fixtures/roots/hardened/etc/ssh/sshd_config");

/// The hardened root with `extra` appended to its sshd_config.
fn hardened_with(extra: &str) -> common::Root {
    let r = fixture_root("hardened");
    r.file("/etc/ssh/sshd_config", &format!("{HARDENED}{extra}"));
    r
}

#[test]
fn match_block_that_re_enables_passwords_fails_with_the_block_as_evidence() {
    let r = hardened_with("Match Address 10.0.0.0/8\n    PasswordAuthentication yes\n");
    let (report, code) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(code, 1);
    let pw = finding(&report, "ssh.password-authentication");
    assert_eq!(pw["status"], "fail", "{pw}");
    assert_eq!(pw["actual"], "yes for Match Address 10.0.0.0/8");
    let ev = &pw["evidence"][0];
    assert_eq!(ev["file"], "/etc/ssh/sshd_config");
    // HARDENED has 26 lines: the Match line is 27, the setting 28.
    assert_eq!(ev["line"], 28);
    assert_eq!(
        ev["text"],
        "PasswordAuthentication yes (in Match Address 10.0.0.0/8)"
    );
    // The global setting is still shown.
    assert_eq!(pw["evidence"][1]["line"], 2);
    // Nothing else is affected.
    for (id, st) in ssh_statuses(&report) {
        if id != "ssh.password-authentication" {
            assert_eq!(st, "pass", "{id}: {}", finding(&report, &id));
        }
    }
}

#[test]
fn match_block_in_an_included_file_inside_a_match_block_is_audited() {
    let r = fixture_root("hardened");
    r.file(
        "/etc/ssh/sshd_config",
        &format!("{HARDENED}Match User deploy\n    Include /etc/ssh/deploy.d/*.conf\n"),
    )
    .file(
        "/etc/ssh/deploy.d/10.conf",
        "MaxSessions 2\nMatch Host *.ci\n    PermitRootLogin yes\n",
    );
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    let root = finding(&report, "ssh.permit-root-login");
    assert_eq!(root["status"], "fail", "{root}");
    assert_eq!(
        root["actual"],
        "yes for Match Host *.ci (inside Match User deploy)"
    );
    assert_eq!(root["evidence"][0]["file"], "/etc/ssh/deploy.d/10.conf");
    assert_eq!(root["evidence"][0]["line"], 3);
    assert_eq!(status(&report, "ssh.max-sessions"), "pass");
}

#[test]
fn match_blocks_that_tighten_settings_change_nothing() {
    let base = fixture_root("hardened");
    let (before, _) = audit_json(base.path(), &["--level", "strict"]);
    let r = hardened_with(concat!(
        "Match User guest\n",
        "    PermitTTY no\n",
        "    MaxAuthTries 2\n",
        "    PasswordAuthentication no\n",
        "    X11Forwarding no\n",
        "    AllowTcpForwarding no\n",
        "    ClientAliveInterval 1m\n",
        "Match Group sftp Address 192.0.2.0/24\n",
        "    ForceCommand internal-sftp\n",
        "    MaxSessions 1\n",
        "    LogLevel DEBUG\n",
        "Match all\n",
        "    PermitRootLogin no\n",
    ));
    let (after, code) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(ssh_statuses(&after), ssh_statuses(&before));
    assert!(ssh_statuses(&after).iter().all(|(_, s)| s == "pass"));
    assert_eq!(code, audit_json(base.path(), &["--level", "strict"]).1);
    // The global evidence is unchanged: no block failed, so none is cited.
    let mat = finding(&after, "ssh.max-auth-tries");
    assert_eq!(mat["actual"], "3");
    assert_eq!(mat["evidence"].as_array().map(Vec::len), Some(1));
}

#[test]
fn match_block_overridden_by_an_earlier_match_all_is_not_held_against_the_host() {
    // sshd keeps the first value within the Match pass: `Match all` comes first for every
    // connection, so the later block's `yes` never applies.
    let r =
        hardened_with("Match all\n    X11Forwarding no\nMatch User alice\n    X11Forwarding yes\n");
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(status(&report, "ssh.x11-forwarding"), "pass");
}

#[test]
fn weak_ciphers_added_in_a_match_block_fail_ssh_ciphers() {
    // Ciphers is a global-only keyword: sshd accepts it in a Match block only under `Match all`,
    // which applies it to every connection when no earlier line set Ciphers.
    let without_ciphers: String = HARDENED
        .lines()
        .filter(|l| !l.starts_with("Ciphers"))
        .map(|l| format!("{l}\n"))
        .collect();
    let r = fixture_root("hardened");
    r.file(
        "/etc/ssh/sshd_config",
        &format!("{without_ciphers}Match all\n    Ciphers +3des-cbc\n"),
    );
    let (report, _) = audit_json(r.path(), &["--level", "strict"]);
    let c = finding(&report, "ssh.ciphers");
    assert_eq!(c["status"], "fail", "{c}");
    assert!(c["actual"].as_str().unwrap().contains("3des-cbc"), "{c}");
    // 25 lines without Ciphers, `Match all` on line 26, its Ciphers line 27.
    assert_eq!(c["evidence"][0]["line"], 27);

    // Under any other criteria sshd rejects the configuration, and so does the audit: every
    // SSH check is an error naming the line, never a pass.
    let r = hardened_with("Match Address 10.0.0.0/8\n    Ciphers +3des-cbc\n");
    let (report, code) = audit_json(r.path(), &["--level", "strict"]);
    assert_eq!(code, 1);
    let c = finding(&report, "ssh.ciphers");
    assert_eq!(c["status"], "error", "{c}");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("line 28") && reason.contains("not allowed within a Match block"),
        "{reason}"
    );
}

#[test]
fn match_local_port_is_evaluated_for_the_served_port() {
    // Without a local port sshd -T refuses this config; the audit evaluates it for a connection to
    // the first Port, as NixOS's build-time `sshd -T -C lport=…` check does.
    let r = base_root();
    r.file(
        "/etc/ssh/sshd_config",
        "Port 2222\nMatch LocalPort 2222\n    PasswordAuthentication no\n",
    );
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    let pw = finding(&report, "ssh.password-authentication");
    assert_eq!(pw["status"], "pass", "{pw}");
    assert_eq!(pw["evidence"][0]["line"], 3);
    // A block for another port does not protect the port that is served.
    r.file(
        "/etc/ssh/sshd_config",
        "Port 2222\nMatch LocalPort 22\n    PasswordAuthentication no\n",
    );
    let (report, _) = audit_json(r.path(), &["--level", "standard"]);
    assert_eq!(status(&report, "ssh.password-authentication"), "fail");
}

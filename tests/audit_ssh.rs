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

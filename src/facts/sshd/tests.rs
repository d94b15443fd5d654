//! Unit tests of the parsing rules, on single configuration texts.

use super::*;

const HK: &str = "HostKey /etc/ssh/k\n";

fn eff(text: &str) -> SshdEffective {
    match parse_config_text(&format!("{HK}{text}"), "/etc/ssh/sshd_config") {
        Ok(e) => e,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn val(text: &str, k: &str) -> Vec<String> {
    eff(text)
        .get(k)
        .map(|s| s.values.clone())
        .unwrap_or_default()
}

fn rejects(text: &str) -> SshdError {
    match parse_config_text(&format!("{HK}{text}"), "/etc/ssh/sshd_config") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

#[test]
fn defaults() {
    let e = eff("");
    assert_eq!(
        e.get("passwordauthentication").map(|s| &s.values[..]),
        Some(&["yes".to_owned()][..])
    );
    assert_eq!(
        e.get("passwordauthentication")
            .and_then(|s| s.source.clone()),
        None
    );
    assert_eq!(val("", "permitrootlogin"), ["without-password"]);
    assert_eq!(val("", "listenaddress"), ["[::]:22", "0.0.0.0:22"]);
}

#[test]
fn first_value_wins_and_source() {
    let e = eff("PasswordAuthentication no\nPasswordAuthentication yes\n");
    let s = e.get("passwordauthentication").cloned();
    assert_eq!(
        s.as_ref().map(|s| s.values.clone()),
        Some(vec!["no".to_owned()])
    );
    assert_eq!(s.and_then(|s| s.source).map(|s| s.line), Some(2));
}

#[test]
fn case_equals_quotes_comments() {
    assert_eq!(
        val("PASSWORDAUTHENTICATION=No # c\n", "passwordauthentication"),
        ["no"]
    );
    assert_eq!(val("  x11forwarding = \"yes\"\n", "x11forwarding"), ["yes"]);
    assert_eq!(
        val("# PasswordAuthentication no\n", "passwordauthentication"),
        ["yes"]
    );
}

#[test]
fn get_by_alias() {
    let e = eff("ChallengeResponseAuthentication no\n");
    assert_eq!(
        e.get("ChallengeResponseAuthentication")
            .map(|s| s.keyword.as_str()),
        Some("kbdinteractiveauthentication")
    );
    assert_eq!(
        e.get("PubkeyAcceptedKeyTypes").map(|s| s.keyword.as_str()),
        Some("pubkeyacceptedalgorithms")
    );
    assert!(e.get("allowusers").is_none());
}

#[test]
fn aliases_and_enums() {
    assert_eq!(
        val(
            "ChallengeResponseAuthentication no\n",
            "kbdinteractiveauthentication"
        ),
        ["no"]
    );
    assert_eq!(
        val("PermitRootLogin prohibit-password\n", "permitrootlogin"),
        ["without-password"]
    );
    assert_eq!(val("Compression delayed\n", "compression"), ["yes"]);
    assert_eq!(
        val("AllowTcpForwarding all\n", "allowtcpforwarding"),
        ["yes"]
    );
    assert_eq!(val("LogLevel debug1\n", "loglevel"), ["DEBUG"]);
}

#[test]
fn times_and_sizes() {
    assert_eq!(val("LoginGraceTime 1m30s\n", "logingracetime"), ["90"]);
    assert_eq!(val("RekeyLimit 1.5K 1h\n", "rekeylimit"), ["1536", "3600"]);
    assert_eq!(val("MaxStartups 10:30:60\n", "maxstartups"), ["10:30:60"]);
    assert_eq!(val("MaxStartups 5\n", "maxstartups"), ["5:30:5"]);
    assert_eq!(
        val("MaxStartups 5\nMaxStartups 7\n", "maxstartups"),
        ["7:30:7"]
    );
}

#[test]
fn algorithms() {
    assert_eq!(val("Ciphers aes128-ctr\n", "ciphers"), ["aes128-ctr"]);
    assert_eq!(
        val("Ciphers -chacha*,aes1*\n", "ciphers"),
        ["aes256-ctr,aes256-gcm@openssh.com"]
    );
    assert_eq!(
        val("Ciphers ^aes256-ctr\n", "ciphers"),
        [
            "aes256-ctr,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
        ]
    );
    assert_eq!(
        val(
            "PubkeyAcceptedKeyTypes ssh-ed*,rsa-sha2-512\n",
            "pubkeyacceptedalgorithms"
        ),
        ["ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512"]
    );
    rejects("Ciphers bogus\n");
    // sshd re-assembles an emptied list into the default.
    assert_eq!(val("Ciphers -*\n", "ciphers"), val("", "ciphers"));
}

#[test]
fn accumulating() {
    assert_eq!(
        val("AcceptEnv A B\nAcceptEnv C\n", "acceptenv"),
        ["A", "B", "C"]
    );
    assert_eq!(
        val("AllowUsers a\nAllowUsers b\n", "allowusers"),
        ["a", "b"]
    );
    assert_eq!(val("Port 22\nPort 2222\n", "port"), ["22", "2222"]);
    assert_eq!(val("SetEnv A=1\nSetEnv B=2\n", "setenv"), ["A=1"]);
    assert_eq!(
        val(
            "AuthorizedKeysFile a b\nAuthorizedKeysFile c\n",
            "authorizedkeysfile"
        ),
        ["a", "b"]
    );
}

#[test]
fn match_rules() {
    rejects("Match User bob\nPort 22\n");
    assert_eq!(val("Match all\nPort 23\n", "port"), ["23"]);
    assert_eq!(
        val(
            "PasswordAuthentication no\nMatch all\nPasswordAuthentication yes\n",
            "passwordauthentication"
        ),
        ["yes"]
    );
    rejects("Match Bogus x\nX11Forwarding yes\n");
    rejects("Match User\n");
    rejects("Match all User x\n");
    rejects("Match LocalPort 22\nX11Forwarding yes\n");
    rejects("Match Address 10.0.0.1/8\nX11Forwarding yes\n");
}

#[test]
fn invalid() {
    let e = rejects("Bogus yes\n");
    assert_eq!(
        e.to_string(),
        "/etc/ssh/sshd_config line 2: Bad configuration option: Bogus"
    );
    rejects("PasswordAuthentication maybe\n");
    rejects("MaxAuthTries x\n");
    rejects("PasswordAuthentication\n");
    rejects("PasswordAuthentication yes no\n");
    rejects("RDomain x\n");
    rejects("Banner \"a\n");
}

#[test]
fn deprecated_are_ignored() {
    eff("UsePrivilegeSeparation sandbox\nProtocol 2\nKerberosGetAFSToken yes\n");
}

#[test]
fn sshd_t_round_trip() {
    let e = eff("AllowUsers a b\nSubsystem sftp /x y\n");
    let back = parse_sshd_t(&e.render());
    assert!(diff(&e, &back).is_empty());
}

#[test]
fn match_spec_parse() {
    let m = MatchSpec::parse("user=a,addr=1.2.3.4,lport=22").unwrap_or_default();
    assert_eq!(m.user.as_deref(), Some("a"));
    assert_eq!(m.lport, Some(22));
    assert_eq!(
        m.to_spec_string().as_deref(),
        Some("user=a,addr=1.2.3.4,lport=22")
    );
}

proptest::proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_config_text(&text, "fuzz");
    }

    #[test]
    fn never_panics_on_keyword_lines(
        lines in proptest::collection::vec(
            (proptest::sample::select(keywords::KEYWORDS.iter().map(|k| k.name).collect::<Vec<_>>()),
             "[ =\"'#a-zA-Z0-9:,.*!/+^%-]{0,30}"),
            0..12)
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        let _ = parse_config_text(&text, "fuzz");
        let _ = parse_config_text(&format!("Match all\n{text}"), "fuzz");
    }
}

/// A temporary system tree for tests that need files (includes, accounts).
fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, crate::system::RootView) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    for (path, text) in files {
        let p = dir.path().join(path.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&p, text) {
            panic!("write {path}: {e}");
        }
    }
    let view = match crate::system::RootView::open(dir.path()) {
        Ok(v) => v,
        Err(e) => panic!("root view: {e}"),
    };
    (dir, view)
}

fn eff_tree(view: &crate::system::RootView, spec: &str) -> Result<SshdEffective, SshdError> {
    let spec = MatchSpec::parse(spec).unwrap_or_default();
    effective(view, "/etc/ssh/sshd_config", &spec)
}

#[test]
fn include_order_relative_and_sources() {
    let (_d, view) = tree(&[
        (
            "/etc/ssh/sshd_config",
            "Include sshd_config.d/*.conf\nPasswordAuthentication yes\n",
        ),
        ("/etc/ssh/sshd_config.d/20-b.conf", "MaxAuthTries 2\n"),
        (
            "/etc/ssh/sshd_config.d/10-a.conf",
            "PasswordAuthentication no\nMaxAuthTries 1\n",
        ),
        ("/etc/ssh/sshd_config.d/.hidden.conf", "MaxAuthTries 9\n"),
    ]);
    let e = match eff_tree(&view, "") {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    let pa = e.get("passwordauthentication").cloned();
    assert_eq!(
        pa.as_ref().map(|s| s.values.clone()),
        Some(vec!["no".to_owned()])
    );
    assert_eq!(
        pa.and_then(|s| s.source),
        Some(Source {
            file: "/etc/ssh/sshd_config.d/10-a.conf".into(),
            line: 1
        })
    );
    assert_eq!(
        e.get("maxauthtries").map(|s| s.values.clone()),
        Some(vec!["1".to_owned()])
    );
}

#[test]
fn include_recursion_is_an_error_not_a_hang() {
    let (_d, view) = tree(&[("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config\n")]);
    assert!(eff_tree(&view, "").is_err());
    // Fan-out without recursion: each file includes the next one 50 times (50^6 lines).
    let mut files: Vec<(String, String)> = (0..6)
        .map(|i| {
            (
                format!("/etc/ssh/f{i}.conf"),
                format!("Include /etc/ssh/f{}.conf\n", i + 1).repeat(50),
            )
        })
        .collect();
    files.push(("/etc/ssh/f6.conf".into(), "MaxSessions 3\n".into()));
    files.push((
        "/etc/ssh/sshd_config".into(),
        "Include /etc/ssh/f0.conf\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (_d, view) = tree(&refs);
    match eff_tree(&view, "") {
        Err(e) => assert!(e.to_string().contains("too large"), "{e}"),
        Ok(_) => panic!("fan-out accepted"),
    }
}

#[test]
fn match_group_uses_group_file_members_and_primary_gid() {
    let (_d, view) = tree(&[
        (
            "/etc/ssh/sshd_config",
            "Match Group devs\nX11Forwarding yes\nMatch Group staff\nMaxSessions 2\nMatch Group devs,!banned\nPermitTTY no\n",
        ),
        (
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
        ),
        (
            "/etc/group",
            "root:x:0:\nstaff:x:1000:\ndevs:x:2000:alice,bob\nbanned:x:2001:bob\nbob:x:1001:\n",
        ),
    ]);
    let get = |spec: &str, k: &str| match eff_tree(&view, spec) {
        Ok(e) => e.get(k).map(|s| s.values.join(" ")).unwrap_or_default(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(get("user=alice", "x11forwarding"), "yes");
    assert_eq!(get("user=alice", "maxsessions"), "2");
    assert_eq!(get("user=alice", "permittty"), "no");
    assert_eq!(get("user=bob", "x11forwarding"), "yes");
    assert_eq!(get("user=bob", "maxsessions"), "10");
    assert_eq!(get("user=bob", "permittty"), "yes");
    assert_eq!(get("user=nobody", "x11forwarding"), "no");
}

#[test]
fn tilde_uses_root_home_of_the_audited_system() {
    let (_d, view) = tree(&[
        (
            "/etc/ssh/sshd_config",
            "AuthorizedKeysFile ~/.ssh/keys ~alice/k\n",
        ),
        (
            "/etc/passwd",
            "root:x:0:0:root:/var/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        ),
    ]);
    let e = match eff_tree(&view, "") {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        e.get("authorizedkeysfile").map(|s| s.values.clone()),
        Some(vec![
            "/var/root/.ssh/keys".to_owned(),
            "/home/alice/k".to_owned()
        ])
    );
}

#[test]
fn missing_main_config_is_a_read_error() {
    let (_d, view) = tree(&[("/etc/passwd", "")]);
    assert!(matches!(eff_tree(&view, ""), Err(SshdError::Read { .. })));
}

#[test]
fn serializes_to_json() {
    let e = eff("PasswordAuthentication no\n");
    let json = serde_json::to_value(&e).unwrap_or_default();
    let pa = json["settings"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["keyword"] == "passwordauthentication"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(pa["values"][0], "no");
    assert_eq!(pa["source"]["line"], 2);
    let err = rejects("Bogus x\n");
    assert!(serde_json::to_string(&err).is_ok());
}

fn block_vals(b: &MatchBlock, k: &str) -> Vec<String> {
    b.get(k).map(|s| s.values.clone()).unwrap_or_default()
}

#[test]
fn match_blocks_report_each_block_normalised() {
    let e = eff(concat!(
        "PasswordAuthentication no\n",
        "PubkeyAcceptedAlgorithms ssh-ed25519\n",
        "Match Address 10.0.0.0/8 # office\n",
        "    passwordauthentication YES\n",
        "    PasswordAuthentication no\n",
        "    ClientAliveInterval 2m\n",
        "    PubkeyAcceptedAlgorithms -ssh-ed25519*\n",
        "    RekeyLimit 1G\n",
        "    Banner none\n",
        "Match User guest\n",
        "    PermitRootLogin prohibit-password\n",
        "    MaxAuthTries 2\n",
    ));
    // The global settings are unchanged by the blocks.
    assert_eq!(val("", "passwordauthentication"), ["yes"]);
    let b = e.match_blocks();
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].criteria, "Address 10.0.0.0/8");
    assert_eq!((b[0].file.as_str(), b[0].line), ("/etc/ssh/sshd_config", 4));
    assert!(!b[0].all && b[0].within.is_empty() && b[0].error.is_none());
    // First value wins inside the block too, and the value is printed as sshd prints it.
    assert_eq!(block_vals(&b[0], "PasswordAuthentication"), ["yes"]);
    assert_eq!(
        b[0].get("passwordauthentication")
            .and_then(|s| s.source.clone()),
        Some(Source {
            file: "/etc/ssh/sshd_config".into(),
            line: 5
        })
    );
    assert_eq!(block_vals(&b[0], "clientaliveinterval"), ["120"]);
    assert_eq!(block_vals(&b[0], "rekeylimit"), ["1073741824", "0"]);
    assert_eq!(block_vals(&b[0], "banner"), ["none"]);
    // `-` applies to the compiled-in default list, as sshd's assembly after a Match does.
    let pk = block_vals(&b[0], "pubkeyacceptedalgorithms").join(",");
    let pk: Vec<&str> = pk.split(',').collect();
    assert!(
        !pk.contains(&"ssh-ed25519") && pk.contains(&"rsa-sha2-512"),
        "{pk:?}"
    );
    assert_eq!(block_vals(&b[1], "permitrootlogin"), ["without-password"]);
    assert_eq!(block_vals(&b[1], "maxauthtries"), ["2"]);
    assert!(b[1].get("passwordauthentication").is_none());
    assert_eq!(b[1].describe(), "Match User guest");
}

#[test]
fn match_all_blocks_are_flagged_and_shadow_later_blocks() {
    let e = eff(concat!(
        "Match User a\n    X11Forwarding yes\n",
        "Match all\n    X11Forwarding no\n    Ciphers aes128-ctr\n",
        "Match User b\n    X11Forwarding yes\n    PermitTTY no\n",
    ));
    let b = e.match_blocks();
    assert_eq!(b.len(), 3);
    assert!(!b[0].all && b[0].overridden.is_empty());
    assert!(b[1].all);
    // Ciphers is not copied from a Match block: it took effect in pass 1, globally.
    assert!(b[1].get("ciphers").is_none());
    assert_eq!(
        e.get("ciphers").map(|s| s.values.clone()),
        Some(vec!["aes128-ctr".into()])
    );
    assert!(b[2].is_overridden("X11Forwarding") && !b[2].is_overridden("permittty"));
}

#[test]
fn match_block_errors_stay_with_the_block() {
    // sshd -T accepts this (the block is not applied); `sshd -T -C user=a` fails with
    // "tilde_expand: No such user nosuchuser".
    let e = eff(
        "Match User a\n    AuthorizedPrincipalsFile ~nosuchuser/p\n    PermitTTY no\nMatch User b\n    MaxSessions 1\n",
    );
    let b = e.match_blocks();
    assert_eq!(b.len(), 2);
    assert!(
        b[0].error.as_deref().is_some_and(|m| m.contains("line 3")),
        "{:?}",
        b[0].error
    );
    assert_eq!(block_vals(&b[0], "permittty"), ["no"]);
    assert_eq!(block_vals(&b[1], "maxsessions"), ["1"]);
}

#[test]
fn config_without_match_has_no_blocks() {
    assert!(eff("PermitTTY no\n").match_blocks().is_empty());
}

//! Where rulesets come from: boot-time files found through a RootView (Debian, RHEL with an
//! include glob, NixOS store scripts named by nftables.service), and the live ruleset from a view
//! whose `nft` is faked (the host's ruleset is never read or touched here).

use std::io;
use std::path::Path;

use hardenctl::facts::firewall::{self, FirewallError};
use hardenctl::system::{CommandOutput, Metadata, ReadError, RootView, SystemView, ViewKind};

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn nothing_found() {
    let root = tempfile::tempdir().unwrap();
    let view = RootView::open(root.path()).unwrap();
    assert!(firewall::persisted_ruleset(&view).unwrap().is_none());
    assert!(
        firewall::live_ruleset(&view).is_none(),
        "offline views have no live ruleset"
    );
}

#[test]
fn rhel_sysconfig_with_include_glob() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(
        r,
        "/usr/lib/systemd/system/nftables.service",
        "[Service]\nType=oneshot\nExecStart=/sbin/nft -f /etc/sysconfig/nftables.conf\nExecStop=/sbin/nft flush ruleset\n",
    );
    write(
        r,
        "/etc/sysconfig/nftables.conf",
        "# Uncomment the include statement here to load the default config sample\ninclude \"/etc/nftables/*.nft\"\n",
    );
    write(
        r,
        "/etc/nftables/10-table.nft",
        "table inet main {\n chain input { type filter hook input priority 0; policy drop; }\n}\n",
    );
    write(
        r,
        "/etc/nftables/20-rules.nft",
        "add rule inet main input tcp dport 443 accept\n",
    );
    write(r, "/etc/nftables/README", "not included");
    let view = RootView::open(r).unwrap();
    let (rs, files) = firewall::persisted_ruleset(&view).unwrap().unwrap();
    assert_eq!(
        files,
        [
            "/etc/sysconfig/nftables.conf",
            "/etc/nftables/10-table.nft",
            "/etc/nftables/20-rules.nft"
        ]
    );
    let p = rs.open_ports();
    assert_eq!(p.tcp, [firewall::PortRange::single(443)]);
    assert!(rs.input_policy_drop().drop);
    let rule = &rs
        .table("inet", "main")
        .unwrap()
        .chain("input")
        .unwrap()
        .rules[0];
    assert_eq!(
        rule.evidence(),
        "/etc/nftables/20-rules.nft:1: tcp dport 443 accept"
    );
}

#[test]
fn debian_relative_include_and_missing_include() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    write(
        r,
        "/etc/nftables.conf",
        "flush ruleset\ninclude \"nftables.d/*.conf\"\n",
    );
    write(
        r,
        "/etc/nftables.d/a.conf",
        "table inet f { chain i { type filter hook input priority 0; } }\n",
    );
    let view = RootView::open(r).unwrap();
    let (rs, files) = firewall::persisted_ruleset(&view).unwrap().unwrap();
    assert_eq!(files, ["/etc/nftables.conf", "/etc/nftables.d/a.conf"]);
    assert_eq!(rs.input_chains().len(), 1);

    write(
        r,
        "/etc/nftables.conf",
        "flush ruleset\n\ninclude \"missing.conf\"\n",
    );
    let e = firewall::persisted_ruleset(&view).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/nftables.conf:3: include \"missing.conf\": file not found"
    );

    write(r, "/etc/nftables.conf", "table inet f {\n chain i {\n");
    let e = firewall::persisted_ruleset(&view).unwrap_err();
    assert!(matches!(e, FirewallError::Syntax { line: 2, .. }), "{e}");
}

#[test]
fn nixos_unit_with_store_scripts() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let store = "/nix/store/2x9aw0y0l5k7pz1r-unit-nftables.service/nftables.service";
    write(
        r,
        store,
        "[Unit]\nDescription=nftables firewall\n\n[Service]\nExecStart=/nix/store/aaa-nftables-rules\n\
         ExecStart=/nix/store/bbb-nftables-extra\nExecReload=/nix/store/aaa-nftables-rules\nRemainAfterExit=true\nType=oneshot\n",
    );
    std::fs::create_dir_all(r.join("etc/systemd/system")).unwrap();
    std::os::unix::fs::symlink(store, r.join("etc/systemd/system/nftables.service")).unwrap();
    write(
        r,
        "/nix/store/aaa-nftables-rules",
        "#! /nix/store/ccc-nftables-1.0.9/bin/nft -f\nflush ruleset\ninclude \"/nix/store/ddd-nftables-ruleset\"\n",
    );
    write(
        r,
        "/nix/store/ddd-nftables-ruleset",
        "table inet nixos-fw {\n chain input {\n  type filter hook input priority filter; policy drop;\n\
           iifname \"lo\" accept\n  ct state vmap { invalid : drop, established : accept, related : accept, new : jump input-allow, untracked : jump input-allow }\n\
         }\n chain input-allow {\n  tcp dport 22 accept\n  icmp type echo-request accept\n }\n}\n",
    );
    write(
        r,
        "/nix/store/bbb-nftables-extra",
        "#! /nix/store/ccc-nftables-1.0.9/bin/nft -f\nadd rule inet nixos-fw input-allow udp dport 51820 accept\n",
    );
    // Also present, but the unit wins.
    write(r, "/etc/nftables.conf", "table inet other { }\n");
    let view = RootView::open(r).unwrap();
    let (rs, files) = firewall::persisted_ruleset(&view).unwrap().unwrap();
    assert_eq!(
        files,
        [
            "/nix/store/aaa-nftables-rules",
            "/nix/store/ddd-nftables-ruleset",
            "/nix/store/bbb-nftables-extra"
        ]
    );
    assert!(rs.table("inet", "other").is_none());
    let p = rs.open_ports();
    assert_eq!(p.tcp, [firewall::PortRange::single(22)]);
    assert_eq!(p.udp, [firewall::PortRange::single(51820)]);
    assert!(rs.established_accepted().accepted);
    assert!(rs.input_policy_drop().drop);
}

/// A live-looking view whose `nft` prints canned output.
struct FakeLive {
    out: Option<CommandOutput>,
}

impl SystemView for FakeLive {
    fn kind(&self) -> ViewKind {
        ViewKind::Live
    }
    fn target(&self) -> String {
        "fake".into()
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        Err(ReadError::NotFound { path: path.into() })
    }
    fn metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        Err(ReadError::NotFound { path: path.into() })
    }
    fn symlink_metadata(&self, path: &str) -> Result<Metadata, ReadError> {
        Err(ReadError::NotFound { path: path.into() })
    }
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        Err(ReadError::NotFound { path: path.into() })
    }
    fn read_link(&self, path: &str) -> Result<String, ReadError> {
        Err(ReadError::NotFound { path: path.into() })
    }
    fn command(&self, program: &str, args: &[&str]) -> Option<io::Result<CommandOutput>> {
        assert_eq!(program, "nft");
        if args == ["list", "ruleset"] {
            // The text listing, read for table flags.
            return Some(Ok(CommandOutput {
                status: Some(0),
                stdout: "table inet hardenctl {\n\tflags dormant\n}\n".into(),
                stderr: String::new(),
            }));
        }
        assert_eq!(args, ["-j", "list", "ruleset"]);
        Some(match &self.out {
            Some(o) => Ok(o.clone()),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "nft not installed")),
        })
    }
}

#[test]
fn live_ruleset_from_nft_json() {
    let ok = FakeLive {
        out: Some(CommandOutput {
            status: Some(0),
            stdout: r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "hardenctl", "handle": 1}}]}"#.into(),
            stderr: String::new(),
        }),
    };
    let rs = firewall::live_ruleset(&ok).unwrap().unwrap();
    assert!(
        rs.table("inet", "hardenctl").unwrap().dormant,
        "flags from the text listing"
    );

    let denied = FakeLive {
        out: Some(CommandOutput {
            status: Some(1),
            stdout: String::new(),
            stderr: "Operation not permitted (you must be root)\n".into(),
        }),
    };
    let e = firewall::live_ruleset(&denied).unwrap().unwrap_err();
    assert!(
        e.to_string().contains("exit 1") && e.to_string().contains("you must be root"),
        "{e}"
    );

    // No nft program: reported as such, so the checks can say "no ruleset loaded".
    let missing = FakeLive { out: None };
    assert!(matches!(
        firewall::live_ruleset(&missing),
        Some(Err(FirewallError::NotInstalled))
    ));

    let garbage = FakeLive {
        out: Some(CommandOutput {
            status: Some(0),
            stdout: "table inet x {".into(),
            stderr: String::new(),
        }),
    };
    assert!(matches!(
        firewall::live_ruleset(&garbage),
        Some(Err(FirewallError::Json { .. }))
    ));
}

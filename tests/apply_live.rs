//! Live apply inside network namespaces this test creates: the real kernel and the real `nft`.
//! Only the firewall and the per-namespace `net.*` sysctls are applied (`--only
//! firewall,sysctl-net`), persistent files go under a temporary `--persist-root`, and the root
//! namespace's firewall and sysctls are checked to be unchanged. A second namespace joined by a
//! veth pair is the client.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Netns;

const SERVER: &str = "10.77.0.1";
const CLIENT: &str = "10.77.0.2";

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A server namespace and a client namespace joined by a veth pair (made inside them: the root
/// namespace never sees the link).
fn pair() -> (Netns, Netns) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let (s, c) = (Netns::new(), Netns::new());
    let id = format!(
        "{}x{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::SeqCst)
    );
    let (a, b) = (format!("hs{id}"), format!("hc{id}"));
    run(&[
        "ip", "-n", &s.0, "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &c.0,
    ]);
    for (ns, dev, addr) in [(&s, &a, SERVER), (&c, &b, CLIENT)] {
        run(&[
            "ip",
            "-n",
            &ns.0,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            dev,
        ]);
        run(&["ip", "-n", &ns.0, "link", "set", dev, "up"]);
        run(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
    }
    (s, c)
}

/// Runs `f` on a thread that has entered the network namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{}", ns.0);
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&fd),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// A listener on `port` inside `ns` that accepts connections until the test ends.
fn listen(ns: &Netns, port: u16) {
    let l = in_netns(ns, move || TcpListener::bind((SERVER, port)).unwrap());
    std::thread::spawn(move || for _ in l.incoming() {});
}

/// Can the client namespace open a TCP connection to the server's `port`?
fn connects(client: &Netns, port: u16) -> bool {
    in_netns(client, move || {
        let addr: SocketAddr = format!("{SERVER}:{port}").parse().unwrap();
        TcpStream::connect_timeout(&addr, Duration::from_millis(1500)).is_ok()
    })
}

fn hardenctl_in(ns: &Netns, args: &[&str]) -> (String, String, i32) {
    let bin = assert_cmd::cargo::cargo_bin("hardenctl");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn apply(ns: &Netns, persist: &Path, policy: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "apply",
        "--persist-root",
        persist.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--only",
        "firewall,sysctl-net",
    ];
    args.extend_from_slice(extra);
    let (out, err, code) = hardenctl_in(ns, &args);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    out
}

fn site(dir: &Path, name: &str, ports: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("extends = \"strict\"\n[firewall]\nallowed-tcp-ports = [{ports}]\n"),
    )
    .unwrap();
    p
}

/// The per-namespace sysctls the strict level sets, read in the calling thread's namespace.
fn net_sysctls() -> Vec<(String, String)> {
    [
        "net/ipv4/conf/all/send_redirects",
        "net/ipv4/conf/all/rp_filter",
        "net/ipv4/conf/default/log_martians",
        "net/ipv6/conf/all/accept_ra",
        "net/ipv4/ip_forward",
        "net/ipv4/tcp_syncookies",
    ]
    .iter()
    .map(|k| {
        (
            k.to_string(),
            std::fs::read_to_string(format!("/proc/sys/{k}")).unwrap_or_default(),
        )
    })
    .collect()
}

fn nft_in(ns: &Netns, args: &[&str]) -> String {
    ns.nft(args)
}

#[test]
fn live_firewall_and_net_sysctls_in_a_namespace() {
    let host_sysctls = net_sysctls();
    let host_ruleset = run(&["nft", "list", "ruleset"]);
    let (server, client) = pair();
    let dir = tempfile::tempdir().unwrap();
    let persist = dir.path().join("persist");
    std::fs::create_dir_all(persist.join("etc")).unwrap();
    let policy = site(dir.path(), "site.toml", "22, 8080");
    // Another table of the namespace, which hardenctl must leave alone.
    nft_in(&server, &["add", "table", "inet", "other"]);
    nft_in(&server, &["add", "chain", "inet", "other", "keep"]);
    listen(&server, 8080);
    listen(&server, 9090);
    assert!(connects(&client, 8080) && connects(&client, 9090));

    let out = apply(&server, &persist, &policy, &[]);
    assert!(
        out.contains("replace the running table inet hardenctl"),
        "{out}"
    );
    assert!(out.contains("net.ipv4.conf.all.send_redirects"), "{out}");
    // net.core.bpf_jit_harden is global although it starts with net.: not in sysctl-net.
    assert!(
        !out.contains("kernel.") && !out.contains("bpf_jit_harden"),
        "a global sysctl was planned:\n{out}"
    );

    // The running table and the per-namespace sysctls are in place; the root namespace is not
    // touched.
    let table = nft_in(&server, &["list", "table", "inet", "hardenctl"]);
    for needle in [
        "set ban_v4",
        "set ban_v6",
        "chain bans",
        "ip saddr @ban_v4 drop",
        "policy drop",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    assert!(nft_in(&server, &["list", "ruleset"]).contains("table inet other"));
    let ns_sysctls = in_netns(&server, net_sysctls);
    let get = |v: &[(String, String)], k: &str| {
        v.iter().find(|(n, _)| n == k).unwrap().1.trim().to_owned()
    };
    assert_eq!(get(&ns_sysctls, "net/ipv4/conf/all/send_redirects"), "0");
    assert_eq!(get(&ns_sysctls, "net/ipv6/conf/all/accept_ra"), "0");
    assert_eq!(
        net_sysctls(),
        host_sysctls,
        "the root namespace's sysctls changed"
    );
    assert_eq!(
        run(&["nft", "list", "ruleset"]),
        host_ruleset,
        "the root namespace's ruleset changed"
    );
    let persisted =
        std::fs::read_to_string(persist.join("etc/sysctl.d/99-zz-hardenctl.conf")).unwrap();
    assert!(
        persisted.contains("net.ipv4.conf.all.send_redirects = 0")
            && !persisted.contains("kernel.")
    );
    assert!(persist.join("etc/hardenctl/nftables.nft").exists());

    // An allowed port connects, a closed one does not.
    assert!(connects(&client, 8080), "allowed port 8080 refused");
    assert!(!connects(&client, 9090), "closed port 9090 still open");

    // A live audit in the namespace passes the firewall checks on the running ruleset (what the
    // host loads at boot is the host's business and reported after `at boot:`).
    let (out, err, _) = hardenctl_in(
        &server,
        &[
            "audit",
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    for (id, running) in [
        ("firewall.enabled", "running: 2 input hook chain(s)"),
        (
            "firewall.input-default-drop",
            "running: drop (IPv4 and IPv6)",
        ),
        (
            "firewall.established-accepted",
            "running: established,related accepted",
        ),
        ("firewall.allowed-tcp-ports-only", "running: open: 22,8080;"),
        ("firewall.allowed-udp-ports-only", "running: open: none;"),
        ("firewall.ssh-rate-limit", "running: port 22 rate-limited"),
        ("firewall.log-dropped", "running: drops logged"),
    ] {
        let actual = common::finding(&report, id)["actual"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(actual.starts_with(running), "{id}: {actual}");
    }
    let f = common::finding(&report, "sysctl.net.ipv4.conf.all.send_redirects");
    assert!(
        f["status"] == "pass" || f["actual"].as_str().unwrap().starts_with("0 (running)"),
        "{f}"
    );

    // Applying again changes nothing.
    let out = apply(&server, &persist, &policy, &[]);
    assert!(out.starts_with("nothing to change"), "{out}");

    // A ban added by the failed-login monitor survives a re-apply with another policy, with its
    // remaining time.
    nft_in(
        &server,
        &[
            "add",
            "element",
            "inet",
            "hardenctl",
            "ban_v4",
            "{ 192.0.2.7 timeout 1h }",
        ],
    );
    nft_in(
        &server,
        &[
            "add",
            "element",
            "inet",
            "hardenctl",
            "ban_v6",
            "{ 2001:db8::7 timeout 2h }",
        ],
    );
    let wider = site(dir.path(), "wider.toml", "22, 8080, 9090");
    let out = apply(&server, &persist, &wider, &[]);
    assert!(out.contains("replace the running table"), "{out}");
    let table = nft_in(&server, &["list", "table", "inet", "hardenctl"]);
    assert!(
        table.contains("192.0.2.7 timeout") && table.contains("expires 59m"),
        "{table}"
    );
    assert!(
        table.contains("2001:db8::7 timeout") && table.contains("expires 1h59m"),
        "{table}"
    );
    assert!(table.contains("8080, 9090"), "{table}");
    assert!(connects(&client, 9090));
    assert!(nft_in(&server, &["list", "ruleset"]).contains("table inet other"));

    // Rollback restores the table of the first apply, keeping the bans.
    let (out, err, code) = hardenctl_in(
        &server,
        &["rollback", "--persist-root", persist.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let table = nft_in(&server, &["list", "table", "inet", "hardenctl"]);
    assert!(
        !table.contains("9090") && table.contains("192.0.2.7"),
        "{table}"
    );
    assert!(!connects(&client, 9090));
    assert!(nft_in(&server, &["list", "ruleset"]).contains("table inet other"));
}

/// The ruleset without set elements, whose remaining times tick.
fn ruleset_shape(ns: &Netns) -> String {
    nft_in(ns, &["list", "ruleset"])
        .lines()
        .filter(|l| {
            !l.contains("elements =") && !l.trim_start().starts_with(|c: char| c.is_ascii_digit())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_unconfirmed_firewall_change_rolls_back_by_itself() {
    let (server, client) = pair();
    let dir = tempfile::tempdir().unwrap();
    let persist = dir.path().join("persist");
    std::fs::create_dir_all(persist.join("etc")).unwrap();
    listen(&server, 8080);
    let first = site(dir.path(), "first.toml", "22, 8080");
    apply(&server, &persist, &first, &[]);
    let before = ruleset_shape(&server);
    assert!(connects(&client, 8080));

    // A change that closes 8080, not confirmed within 6 s: the previous table comes back. (The
    // windows here are wide enough for the checks in between to run on a loaded CI machine.)
    let second = site(dir.path(), "second.toml", "22");
    let out = apply(&server, &persist, &second, &["--confirm-within", "6s"]);
    assert!(out.contains("rolls back at"), "{out}");
    assert_ne!(ruleset_shape(&server), before);
    assert!(!connects(&client, 8080));
    let started = Instant::now();
    while ruleset_shape(&server) != before {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "not rolled back:\n{}",
            ruleset_shape(&server)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(connects(&client, 8080));
    let result =
        std::fs::read_to_string(persist.join("var/lib/hardenctl/apply/confirm-result")).unwrap();
    assert!(result.starts_with("rolled back"), "{result}");
    // Confirming now is too late, and says why.
    let (_, err, code) = hardenctl_in(
        &server,
        &[
            "apply",
            "--persist-root",
            persist.to_str().unwrap(),
            "--confirm",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("rolled back"), "{err}");

    // Confirmed in time, the change stays.
    apply(&server, &persist, &second, &["--confirm-within", "15s"]);
    let (out, err, code) = hardenctl_in(
        &server,
        &[
            "apply",
            "--persist-root",
            persist.to_str().unwrap(),
            "--confirm",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(Duration::from_secs(16));
    assert!(
        !connects(&client, 8080),
        "a confirmed change was rolled back"
    );
    let result =
        std::fs::read_to_string(persist.join("var/lib/hardenctl/apply/confirm-result")).unwrap();
    assert_eq!(result.trim(), "confirmed");
}

fn ssh_attempt(client: &Netns, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &client.0])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const SSH_OPTS: [&str; 10] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "NumberOfPasswordPrompts=1",
    "-p",
    "2222",
];

/// A password attempt (sshpass) and a key attempt against the sshd in `server`.
fn attempts(client: &Netns, root: &Path) -> (String, String) {
    let target = format!("nobody@{SERVER}");
    let mut pw = vec![
        "sshpass",
        "-p",
        "not-the-password",
        "ssh",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
    ];
    pw.extend_from_slice(&SSH_OPTS);
    pw.extend_from_slice(&[&target, "true"]);
    let key = root.join("client_key");
    let mut k = vec![
        "ssh",
        "-v",
        "-i",
        key.to_str().unwrap(),
        "-o",
        "BatchMode=yes",
        "-o",
        "PasswordAuthentication=no",
    ];
    k.extend_from_slice(&SSH_OPTS);
    k.extend_from_slice(&[&target, "true"]);
    (ssh_attempt(client, &pw), ssh_attempt(client, &k))
}

/// Starts sshd in `server` with the root's main configuration, its `Include` pointed into the
/// root (sshd resolves absolute paths on the host), and waits until it listens.
struct Sshd(std::process::Child);

impl Sshd {
    fn start(server: &Netns, client: &Netns, root: &Path) -> Sshd {
        let main = std::fs::read_to_string(root.join("etc/ssh/sshd_config")).unwrap();
        let text: String = main
            .lines()
            .map(|l| match l.strip_prefix("Include /") {
                Some(rest) => format!("Include {}/{rest}\n", root.display()),
                None => format!("{l}\n"),
            })
            .collect();
        let config = root.join("run_config");
        std::fs::write(&config, text).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &server.0,
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
            ])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !connects(client, 2222) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Sshd(child)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sshd_with_the_applied_drop_in_takes_keys_and_refuses_passwords() {
    let (server, client) = pair();
    // sshd's privilege separation directory, as its service would make it.
    std::fs::create_dir_all("/run/sshd").unwrap();
    // StrictModes wants every directory above the key file root-owned and not group or world
    // writable, which /tmp is not: the root lives in /run.
    let dir = tempfile::Builder::new()
        .prefix("hc-sshd-")
        .tempdir_in("/run")
        .unwrap();
    let root = dir.path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
    std::fs::create_dir_all(root.join("keys")).unwrap();
    for (key, file) in [
        ("host", "etc/ssh/ssh_host_ed25519_key"),
        ("client", "client_key"),
    ] {
        let p = root.join(file);
        run(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            key,
            "-f",
            p.to_str().unwrap(),
        ]);
    }
    std::fs::copy(root.join("client_key.pub"), root.join("keys/nobody")).unwrap();
    std::fs::set_permissions(
        root.join("keys/nobody"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n").unwrap();
    std::fs::write(
        root.join("etc/ssh/sshd_config"),
        format!(
            "ListenAddress {SERVER}:2222\nHostKey {r}/etc/ssh/ssh_host_ed25519_key\nPidFile {r}/sshd.pid\nAuthorizedKeysFile {r}/keys/%u\nUsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n",
            r = root.display()
        ),
    )
    .unwrap();

    // Before: passwords are offered.
    {
        let _sshd = Sshd::start(&server, &client, root);
        let (pw, key) = attempts(&client, root);
        assert!(
            pw.contains("Permission denied (publickey,password)"),
            "{pw}"
        );
        assert!(key.contains(&format!("Authenticated to {SERVER}")), "{key}");
    }

    // The guard reads authorized keys inside the root, where this host path does not resolve:
    // --force, which the guard tests in apply_root cover.
    let out = common::hardenctl()
        .args([
            "apply", "--level", "standard", "--only", "sshd", "--force", "--root",
        ])
        .arg(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("+PasswordAuthentication no")
            && stdout.contains("done: check the new sshd configuration with sshd -t"),
        "{stdout}"
    );

    // After: the drop-in wins over the main file's `PasswordAuthentication yes`.
    let _sshd = Sshd::start(&server, &client, root);
    let (pw, key) = attempts(&client, root);
    assert!(
        pw.contains("Permission denied (publickey)"),
        "password login not refused: {pw}"
    );
    assert!(
        key.contains(&format!("Authenticated to {SERVER}")),
        "key login refused: {key}"
    );
}

//! One source of truth for Nix and Rust: the pure-Nix loader (nix/lib/policy.nix, what the NixOS
//! module reads) and hardenctl must resolve every level to the same values. Runs the real
//! `nix-instantiate` (Debian package nix-bin); it evaluates pure expressions only, no nixpkgs.

mod common;

use std::path::Path;
use std::process::Command;

use common::hardenctl;

/// Evaluates a pure Nix expression in the repository root and returns its JSON value.
fn nix_eval(expr: &str) -> serde_json::Value {
    let out = Command::new("nix-instantiate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--eval", "--strict", "--json", "-E", expr])
        .output()
        .expect("nix-instantiate is needed for this test (Debian package nix-bin)");
    assert!(
        out.status.success(),
        "nix-instantiate {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A level as hardenctl resolves it, in the policy files' own shape (`policy show --format toml`).
fn hardenctl_policy(level: &str) -> serde_json::Value {
    let shown = hardenctl()
        .args(["policy", "show", "--format", "toml", "--level", level])
        .output()
        .unwrap();
    assert!(shown.status.success());
    let table: toml::Table = toml::from_str(&String::from_utf8(shown.stdout).unwrap()).unwrap();
    serde_json::to_value(table).unwrap()
}

/// Drops the descriptive keys that are not values of any check.
fn values_only(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["level", "description", "extends"] {
            o.remove(k);
        }
    }
    v
}

#[test]
fn nix_and_hardenctl_resolve_every_level_identically() {
    for level in ["minimal", "standard", "strict"] {
        let nix = nix_eval(&format!(
            "(import ./nix/lib/policy.nix {{}}).levels.{level}"
        ));
        let rust = hardenctl_policy(level);

        assert_eq!(
            values_only(nix),
            values_only(rust),
            "level {level}: Nix and hardenctl disagree"
        );
    }
}

#[test]
fn every_policy_file_parses_as_nix_toml() {
    // A construct Nix's fromTOML rejects (e.g. a date in a level file) would break the NixOS
    // module even where hardenctl accepts it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        nix_eval(&format!(
            "builtins.fromTOML (builtins.readFile {})",
            path.display()
        ));
    }
}

/// The `services.openssh.settings` keys whose list values NixOS's sshd module joins itself (see
/// `commaSeparated` and `spaceSeparated` in nixpkgs' sshd.nix).
const NIXOS_LIST_KEYS: [&str; 8] = [
    "Ciphers",
    "KexAlgorithms",
    "Macs",
    "AuthorizedKeysFile",
    "AllowGroups",
    "AllowUsers",
    "DenyGroups",
    "DenyUsers",
];

/// The option values the NixOS module applies (nix/lib/settings.nix, pure) say what hardenctl's
/// policy says: the same sysctls, the kernel command line rendered from `[kernel.cmdline]`, the
/// blacklist, the sshd settings, the firewall ports and the audit rules.
#[test]
fn nixos_settings_enforce_the_policy() {
    for level in ["minimal", "standard", "strict"] {
        let nix = nix_eval(&format!(
            "(import ./nix/lib/settings.nix) (import ./nix/lib/policy.nix {{}}).levels.{level}"
        ));
        let policy = hardenctl_policy(level);
        let empty = serde_json::json!({});

        assert_eq!(
            nix["sysctl"],
            *policy.get("sysctl").unwrap_or(&empty),
            "{level}: sysctls"
        );

        let cmdline = policy
            .pointer("/kernel/cmdline")
            .and_then(|c| c.as_object())
            .cloned()
            .unwrap_or_default();
        let mut want: Vec<String> = cmdline
            .iter()
            .filter(|(_, v)| **v != serde_json::json!(false))
            .map(|(k, v)| match v {
                serde_json::Value::Bool(true) => k.clone(),
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        want.sort();
        let mut got: Vec<String> = nix["kernelParams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, want, "{level}: kernel parameters");

        let modules = policy
            .pointer("/kernel/blacklisted-modules")
            .and_then(|m| m.as_object())
            .cloned()
            .unwrap_or_default();
        let want: Vec<&String> = modules
            .iter()
            .filter(|(_, v)| **v == serde_json::json!(true))
            .map(|(k, _)| k)
            .collect();
        let got: Vec<&str> = nix["blacklistedKernelModules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{level}: module blacklist");

        let ssh = policy
            .get("ssh")
            .and_then(|s| s.as_object())
            .cloned()
            .unwrap_or_default();
        let settings = nix["opensshSettings"].as_object().unwrap();
        assert_eq!(settings.len(), ssh.len(), "{level}: sshd settings");
        for (k, v) in &ssh {
            let nix_key = if k == "MACs" { "Macs" } else { k.as_str() };
            // NixOS writes a list only for the keys it knows how to join and throws on any
            // other list, so the module gives those (HostKeyAlgorithms) as sshd's comma list.
            let want = match v {
                serde_json::Value::Array(items) if !NIXOS_LIST_KEYS.contains(&nix_key) => {
                    let items: Vec<&str> = items.iter().map(|i| i.as_str().unwrap()).collect();
                    serde_json::Value::String(items.join(","))
                }
                other => other.clone(),
            };
            assert_eq!(
                settings.get(nix_key),
                Some(&want),
                "{level}: services.openssh.settings.{nix_key}"
            );
        }

        let fw = policy.get("firewall").cloned().unwrap_or(empty.clone());
        assert_eq!(
            nix["firewall"]["allowedTCPPorts"],
            *fw.get("allowed-tcp-ports")
                .unwrap_or(&serde_json::Value::Null)
        );
        assert_eq!(
            nix["firewall"]["dropByDefault"],
            fw.get("input-policy").is_some_and(|p| p == "drop")
        );
        assert_eq!(
            nix["integrity"],
            *policy.get("integrity").unwrap_or(&empty),
            "{level}: integrity paths, exclusions, attributes, schedule, watch"
        );
        assert_eq!(
            nix["audit"]["rules"],
            *policy
                .pointer("/audit/rules")
                .unwrap_or(&serde_json::json!([]))
        );
    }
}

#[test]
fn every_nix_file_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("nix")];
    let mut files = vec![root.join("flake.nix")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "nix") {
                files.push(path);
            }
        }
    }
    for path in &files {
        let out = Command::new("nix-instantiate")
            .arg("--parse")
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let n = files.len();
    assert!(n >= 15, "found only {n} .nix files");
}

/// Evaluates a Nix expression that must fail, and returns its error message.
fn nix_eval_error(expr: &str) -> String {
    let out = Command::new("nix-instantiate")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--eval", "--strict", "--json", "-E", expr])
        .output()
        .expect("nix-instantiate is needed for this test (Debian package nix-bin)");
    assert!(
        !out.status.success(),
        "{expr} evaluated, but should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The hardening module evaluated by the module system (nix/tests/minilib.nix, which
/// scripts/check-nix-module.sh holds to nixpkgs' own lib) for one level.
fn module_eval(level: &str, extra: &str) -> String {
    format!(
        "import ./nix/tests/module-eval.nix {{ lib = import ./nix/tests/minilib.nix; \
         level = \"{level}\"; extraModules = [ {extra} ]; }}"
    )
}

/// The module, evaluated as NixOS would (priorities, mkIf, merging), sets exactly the values of
/// nix/lib/settings.nix (which `nixos_settings_enforce_the_policy` holds to hardenctl's policy),
/// and runs the agent and the level's timers under the unit names `hardenctl audit` looks for.
#[test]
fn nixos_module_applies_the_level_and_runs_the_agent() {
    for level in ["minimal", "standard", "strict"] {
        let m = nix_eval(&module_eval(level, ""));
        let s = nix_eval(&format!(
            "(import ./nix/lib/settings.nix) (import ./nix/lib/policy.nix {{}}).levels.{level}"
        ));
        assert_eq!(m["sysctl"], s["sysctl"], "{level}: boot.kernel.sysctl");
        assert_eq!(
            m["kernelParams"], s["kernelParams"],
            "{level}: boot.kernelParams"
        );
        assert_eq!(
            m["blacklistedKernelModules"], s["blacklistedKernelModules"],
            "{level}: boot.blacklistedKernelModules"
        );
        assert_eq!(
            m["opensshSettings"], s["opensshSettings"],
            "{level}: services.openssh.settings"
        );
        assert_eq!(m["firewall"]["enable"], true, "{level}: firewall");
        assert_eq!(m["firewall"]["nftables"], true, "{level}: nftables");
        if !s["firewall"]["allowedTCPPorts"].is_null() {
            assert_eq!(
                m["firewall"]["allowedTCPPorts"],
                s["firewall"]["allowedTCPPorts"]
            );
        }
        let limit_table = &m["firewall"]["tables"]["hardenctl-ssh-limit"];
        assert_eq!(
            !limit_table.is_null(),
            s["firewall"]["sshRateLimit"] == true,
            "{level}: SSH rate limit table"
        );
        assert_eq!(
            m["audit"]["auditd"], s["audit"]["auditd"],
            "{level}: auditd"
        );
        if s["audit"]["auditd"] == true {
            assert_eq!(
                m["audit"]["rules"], s["audit"]["rules"],
                "{level}: audit rules"
            );
        }

        assert_eq!(
            m["sitePolicy"].as_str().unwrap().lines().nth(1),
            Some(format!("extends = \"{level}\"").as_str()),
            "{level}: /etc/hardenctl/policy.toml"
        );
        let agent = &m["services"]["hardenctl"]["serviceConfig"];
        assert_eq!(agent["Type"], "notify");
        assert!(
            agent["ExecStart"]
                .as_str()
                .unwrap()
                .ends_with("-hardenctl/bin/hardenctl daemon")
        );
        assert!(
            agent["ExecReload"]
                .as_str()
                .unwrap()
                .ends_with("kill -HUP $MAINPID")
        );
        assert_eq!(agent["StateDirectory"], "hardenctl");
        assert_eq!(agent["ProtectSystem"], "strict");
        assert_eq!(agent["NoNewPrivileges"], true);
        assert_eq!(
            m["services"]["hardenctl"]["wantedBy"],
            serde_json::json!(["multi-user.target"])
        );

        let timers: Vec<&str> = m["timers"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = Vec::new();
        // The agent checks integrity itself (`[integrity] monitor`), so the timer is only for a
        // system without it (see nixos_module_yields_to_the_site).
        if s["services"]["integrityTimer"] == true && s["services"]["hardenctl"] != true {
            want.push("hardenctl-integrity");
        }
        if s["services"]["updateCheck"] == true {
            want.push("hardenctl-update-check");
        }
        assert_eq!(timers, want, "{level}: timers");
        for t in &timers {
            assert!(
                m["services"].get(*t).is_some(),
                "{level}: {t}.timer has no service"
            );
        }
    }
}

/// Options a site sets win over the level's mkDefault values; lists merge; the agent can be
/// turned off.
#[test]
fn nixos_module_yields_to_the_site() {
    let m = nix_eval(&module_eval(
        "strict",
        r#"{ boot.kernel.sysctl."net.ipv4.ip_forward" = 1;
             boot.kernelParams = [ "console=ttyS0" ];
             services.openssh.settings.LogLevel = "INFO";
             security.hardening.daemon.enable = false;
             security.hardening.sitePolicy = "[sysctl]\n\"net.ipv4.ip_forward\" = 1\n"; }"#,
    ));
    assert_eq!(m["sysctl"]["net.ipv4.ip_forward"], 1);
    assert_eq!(m["sysctl"]["kernel.kptr_restrict"], 2);
    let params = m["kernelParams"].as_array().unwrap();
    assert!(params.contains(&serde_json::json!("console=ttyS0")));
    assert!(params.contains(&serde_json::json!("lockdown=integrity")));
    assert_eq!(m["opensshSettings"]["LogLevel"], "INFO");
    assert!(m["services"].get("hardenctl").is_none());
    // Without the agent, strict's integrity check runs from its timer.
    assert!(m["timers"].get("hardenctl-integrity").is_some(), "{m}");
    assert!(
        m["sitePolicy"]
            .as_str()
            .unwrap()
            .ends_with("extends = \"strict\"\n[sysctl]\n\"net.ipv4.ip_forward\" = 1\n")
    );
}

/// The module system used offline rejects what NixOS rejects, so a mistake in the module cannot
/// pass here and fail only on a real system.
#[test]
fn nixos_module_mistakes_are_rejected() {
    let typo = nix_eval_error(&module_eval(
        "standard",
        "{ security.hardening.levle = \"strict\"; }",
    ));
    assert!(
        typo.contains("The option `security.hardening.levle' does not exist"),
        "{typo}"
    );
    let bad_level = nix_eval_error(&module_eval(
        "standard",
        "{ security.hardening.level = lib.mkForce \"paranoid\"; }",
    ));
    assert!(
        bad_level.contains("security.hardening.level"),
        "{bad_level}"
    );
    let conflict = nix_eval_error(&module_eval(
        "standard",
        "{ security.hardening.auditd.enable = true; } { security.hardening.auditd.enable = false; }",
    ));
    assert!(conflict.contains("conflicting definitions"), "{conflict}");
}

/// The site policy the module writes (/etc/hardenctl/policy.toml, read by the agent and by live
/// audits) is one hardenctl accepts: alone it resolves to the module's level, and with the
/// option's documented example the override and the waiver take.
#[test]
fn nixos_site_policy_is_one_hardenctl_accepts() {
    let dir = tempfile::tempdir().unwrap();
    for level in ["minimal", "standard", "strict"] {
        let plain = nix_eval(&module_eval(level, ""));
        let file = dir.path().join(format!("{level}.toml"));
        std::fs::write(&file, plain["sitePolicy"].as_str().unwrap()).unwrap();
        let shown = hardenctl()
            .args(["policy", "show", "--format", "toml", "--policy"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            shown.status.success(),
            "{level}: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
        let table: toml::Table = toml::from_str(&String::from_utf8(shown.stdout).unwrap()).unwrap();
        assert_eq!(
            values_only(serde_json::to_value(table).unwrap()),
            values_only(hardenctl_policy(level)),
            "{level}: the module's policy file resolves to another policy"
        );

        let example = plain["sitePolicyExample"].as_str().unwrap();
        let with_site = nix_eval(&module_eval(
            level,
            &format!(
                "{{ security.hardening.sitePolicy = {}; }}",
                serde_json::to_string(example).unwrap()
            ),
        ));
        std::fs::write(&file, with_site["sitePolicy"].as_str().unwrap()).unwrap();
        let shown = hardenctl()
            .args(["policy", "show", "--format", "toml", "--policy"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            shown.status.success(),
            "{level} with the example: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
        let text = String::from_utf8(shown.stdout).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            table["sysctl"]["net.ipv4.ip_forward"].as_integer(),
            Some(1),
            "{level}: {text}"
        );
    }
}

/// The SSH rate limit the module adds is a table the real nft loads, whose input chain runs
/// before NixOS's firewall (priority below `filter`) and drops new SSH connections over the limit:
/// loaded into a network namespace of the test's own and read back.
#[test]
fn nixos_ssh_rate_limit_loads_in_nft_before_the_firewall() {
    let m = nix_eval(&module_eval("standard", ""));
    let table = &m["firewall"]["tables"]["hardenctl-ssh-limit"];
    assert_eq!(table["family"], "inet");
    let content = table["content"].as_str().unwrap();

    let ns = common::Netns::new();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!("table inet hardenctl-ssh-limit {{\n{content}}}\n"),
    )
    .unwrap();
    ns.nft(&["-f", file.path().to_str().unwrap()]);
    let listed: serde_json::Value =
        serde_json::from_str(&ns.nft(&["-j", "list", "table", "inet", "hardenctl-ssh-limit"]))
            .unwrap();
    let items = listed["nftables"].as_array().unwrap();
    let chain = items
        .iter()
        .find_map(|i| i.get("chain"))
        .expect("an input chain");
    assert_eq!(chain["hook"], "input");
    assert!(chain["prio"].as_i64().unwrap() < 0, "{chain}");
    assert_eq!(chain["policy"], "accept");
    let rule = items.iter().find_map(|i| i.get("rule")).expect("a rule");
    let expr = rule["expr"].as_array().unwrap();
    assert_eq!(
        expr[0]["match"]["left"]["payload"]["field"], "dport",
        "{rule}"
    );
    assert_eq!(expr[0]["match"]["right"], 22, "{rule}");
    assert_eq!(expr[1]["match"]["right"], "new", "{rule}");
    // `limit rate over`: `inv` is nft's JSON for "over".
    assert_eq!(
        expr[2]["limit"],
        serde_json::json!({"burst": 20, "inv": true, "per": "minute", "rate": 10}),
        "{rule}"
    );
    assert!(expr[3].get("drop").is_some(), "{rule}");
}

/// The ROS 2 environment module: the distro's packages in one environment plus colcon, RViz only
/// with `gui`, the site's extra packages, ROS 2 kept on loopback unless the DDS ports are opened
/// (with the switch each distro understands).
#[test]
fn ros2_environment_follows_its_options() {
    let eval = |args: &str| {
        nix_eval(&format!(
            "import ./nix/tests/ros2-eval.nix {{ lib = import ./nix/tests/minilib.nix; {args} }}"
        ))
    };
    let jazzy = eval("distro = \"jazzy\";");
    assert_eq!(
        jazzy["packages"],
        serde_json::json!([
            "jazzy-env(jazzy-ros-core jazzy-ros2cli jazzy-ros2launch jazzy-demo-nodes-cpp jazzy-demo-nodes-py jazzy-turtlesim)",
            "colcon"
        ])
    );
    assert_eq!(
        jazzy["variables"],
        serde_json::json!({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DISTRO": "jazzy", "ROS_DOMAIN_ID": "0"})
    );
    assert_eq!(jazzy["udpPortRanges"], serde_json::json!([]));

    let humble = eval("distro = \"humble\"; gui = true;");
    assert!(
        humble["packages"][0]
            .as_str()
            .unwrap()
            .contains("humble-rviz2")
    );
    assert_eq!(humble["variables"]["ROS_LOCALHOST_ONLY"], "1");
    assert!(
        humble["variables"]
            .get("ROS_AUTOMATIC_DISCOVERY_RANGE")
            .is_none()
    );

    let open = eval("distro = \"jazzy\"; openDdsPorts = true;");
    assert_eq!(
        open["udpPortRanges"],
        serde_json::json!([{"from": 7400, "to": 7700}])
    );
    assert!(
        open["variables"]
            .get("ROS_AUTOMATIC_DISCOVERY_RANGE")
            .is_none()
    );

    let bad = nix_eval_error(
        "import ./nix/tests/ros2-eval.nix { lib = import ./nix/tests/minilib.nix; distro = \"rolling\"; }",
    );
    assert!(bad.contains("ros2Dev.distro"), "{bad}");
}

/// flake.nix exposes every output the images, CI and users rely on (evaluated without its
/// inputs, nix/tests/flake-outputs.nix), and its nixosModules.default runs the flake's own build.
#[test]
fn flake_exposes_every_output() {
    let f =
        nix_eval("import ./nix/tests/flake-outputs.nix { lib = import ./nix/tests/minilib.nix; }");
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&f["inputs"]),
        ["nix-ros-overlay", "nixos-wsl", "nixpkgs"]
    );
    assert_eq!(
        names(&f["packages"]["x86_64-linux"]),
        [
            "default",
            "hardenctl",
            "iso-ros2",
            "vm-ros2",
            "vm-ros2-disk",
            "wsl-ros2"
        ]
    );
    assert_eq!(
        names(&f["nixosConfigurations"]),
        ["iso-ros2", "vm-ros2", "wsl-ros2"]
    );
    assert_eq!(
        names(&f["nixosModules"]),
        ["default", "hardening", "ros2-dev"]
    );
    assert_eq!(
        names(&f["checks"]["x86_64-linux"]),
        [
            "audit-iso-ros2",
            "audit-vm-ros2",
            "audit-wsl-ros2",
            "basic-services",
            "dev-tools",
            "docker-services",
            "network",
            "security-hardening"
        ]
    );
    assert_eq!(names(&f["devShells"]["x86_64-linux"]), ["default"]);
    assert_eq!(
        f["defaultModulePackage"],
        "hardenctl-callPackage-package.nix"
    );
    assert!(
        f["defaultModuleDaemon"]
            .as_str()
            .unwrap()
            .ends_with("hardenctl-callPackage-package.nix/bin/hardenctl daemon")
    );
}

/// flake.lock pins every input the flake names, nixpkgs through nix-ros-overlay (the revision
/// its binary cache was built from), each with a revision and a NAR hash.
#[test]
fn flake_lock_pins_every_input() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("flake.lock")).unwrap()).unwrap();
    assert_eq!(lock["version"], 7);
    let nodes = lock["nodes"].as_object().unwrap();
    let root_inputs = &nodes["root"]["inputs"];
    assert_eq!(
        root_inputs["nixpkgs"],
        serde_json::json!(["nix-ros-overlay", "nixpkgs"])
    );
    assert_eq!(
        nodes["nixos-wsl"]["inputs"]["nixpkgs"],
        serde_json::json!(["nixpkgs"])
    );
    let mut reached = vec!["root".to_owned()];
    let mut i = 0;
    while i < reached.len() {
        let node = &nodes[&reached[i]];
        for (_, target) in node["inputs"].as_object().into_iter().flatten() {
            if let Some(name) = target.as_str()
                && !reached.iter().any(|r| r == name)
            {
                reached.push(name.to_owned());
            }
        }
        if reached[i] != "root" {
            let locked = &node["locked"];
            assert_eq!(locked["rev"].as_str().unwrap().len(), 40, "{}", reached[i]);
            assert!(
                locked["narHash"].as_str().unwrap().starts_with("sha256-"),
                "{}",
                reached[i]
            );
        }
        i += 1;
    }
    reached.sort();
    let mut all: Vec<String> = nodes.keys().cloned().collect();
    all.sort();
    assert_eq!(
        reached, all,
        "nodes the lock has but no input reaches, or the reverse"
    );
}

/// The NixOS agent runs in the sandbox of the Debian package's unit: every sandboxing directive
/// of packaging/hardenctl.service has the same value in the module's `serviceConfig`, and the
/// module sets none the unit lacks (scripts/check-nix-module.sh does the same with nixpkgs' lib).
#[test]
fn nixos_agent_sandbox_is_the_debian_units() {
    let m = nix_eval(&module_eval("standard", ""));
    let nix = m["services"]["hardenctl"]["serviceConfig"]
        .as_object()
        .unwrap();
    let unit_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/hardenctl.service"),
    )
    .unwrap();
    let mut unit: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut in_service = false;
    for line in unit_text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if let Some((k, v)) = line
            .split_once('=')
            .filter(|_| in_service && !line.starts_with('#'))
        {
            unit.entry(k.trim().to_owned())
                .or_default()
                .push(v.trim().to_owned());
        }
    }
    let sandbox = |k: &str| {
        [
            "Protect",
            "Restrict",
            "Private",
            "NoNewPrivileges",
            "CapabilityBoundingSet",
            "SystemCall",
            "LockPersonality",
            "MemoryDenyWriteExecute",
            "UMask",
            "StateDirectory",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || k == "Type"
            || k == "WatchdogSec"
    };
    let render = |v: &serde_json::Value| match v {
        serde_json::Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let keys: std::collections::BTreeSet<&str> = unit
        .keys()
        .map(String::as_str)
        .chain(nix.keys().map(String::as_str))
        .filter(|k| sandbox(k))
        .collect();
    let mut differ = Vec::new();
    for k in keys {
        let u = unit.get(k).map(|v| v.join(" "));
        let n = nix.get(k).map(render);
        if u != n {
            differ.push(format!("{k}: unit {u:?}, NixOS {n:?}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

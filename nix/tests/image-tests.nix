# NixOS VM tests (pkgs.testers.runNixOSTest), the flake's checks. They boot QEMU VMs with KVM
# (system features kvm and nixos-test), so they run where Nix has its binary cache and /dev/kvm:
# a developer's NixOS machine or the GitHub Actions workflow (.github/workflows/nixos-images.yml).
#
# The scenarios are those of the Debian VM suite that runs without Nix, under QEMU, in the
# project's own test suite (tests/vm_basic.rs, tests/vm_hardening.rs; issue "VM tests"): keep the
# two in step. A Debian scenario is a `subtest` here, under the same name (docs/vm-tests.md has
# the table). What each test checks:
#   basic-services      sshd, nix, user management; subtests `basic` (hardenctl.service active
#                       after READY=1, watchdog armed, status text, journal fields) and `reload`
#                       (a broken policy keeps the agent running on the old one, and it says why)
#   docker-services     the Docker daemon and a container run
#   dev-tools           git, editors, Python, utilities, the ROS 2 environment and colcon
#   security-hardening  at level standard, subtest `security_hardening`: running sysctls, the
#                       kernel command line, `sshd -T`, the nftables ruleset and the audit rules
#                       match the policy; `hardenctl audit --level standard` exits 0; a password
#                       SSH login is refused. Subtest `drift` (enforce = true: a sysctl changed by
#                       hand is put back within the interval, OUTCOME=repaired in the journal) and
#                       `reboot` (everything above again after a reboot)
#   network             two nodes: connectivity, only the level's ports open; subtest `bans`:
#                       repeated failed SSH logins get the client banned by hardenctl
#
# `pkgs` must have the flake's overlay (pkgs.hardenctl) and nix-ros-overlay's: node pkgs are
# read-only in runNixOSTest, so the nodes cannot add overlays themselves.
{ pkgs, self }:
let
  inherit (pkgs) lib;
  policies = import ../lib/policy.nix { };
  settingsFor = level: import ../lib/settings.nix policies.levels.${level};
  standard = settingsFor "standard";

  # A throwaway key pair for the tests (made at build time, never leaves the test).
  testKeys = pkgs.runCommand "hardenctl-test-keys" { nativeBuildInputs = [ pkgs.openssh ]; } ''
    mkdir $out
    ssh-keygen -q -t ed25519 -N "" -C test -f $out/id_ed25519
  '';

  hardened = level: { ... }: {
    imports = [ self.nixosModules.default ];
    security.hardening = { enable = true; inherit level; };
    services.openssh.enable = true;
    users.users.dev = {
      isNormalUser = true;
      password = "correct horse battery staple";
      openssh.authorizedKeys.keyFiles = [ "${testKeys}/id_ed25519.pub" ];
    };
  };

  client = { pkgs, ... }: {
    environment.systemPackages = [ pkgs.sshpass pkgs.netcat-openbsd ];
    networking.firewall.enable = false;
  };

  # sshd -T prints every keyword lower-cased, booleans as yes/no and lists comma-joined.
  sshdLine = key: value:
    let v = if builtins.isBool value then (if value then "yes" else "no")
            else if builtins.isList value then lib.concatStringsSep "," value
            else toString value;
    in "${lib.toLower key} ${v}";
  expectedSshd = lib.mapAttrsToList sshdLine standard.opensshSettings;

  sshOpts = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5";

  test = name: args: pkgs.testers.runNixOSTest ({ inherit name; } // args);
in
{
  basic-services = test "basic-services" {
    nodes.machine = hardened "standard";
    testScript = ''
      machine.wait_for_unit("multi-user.target")
      with subtest("ssh"):
          machine.wait_for_unit("sshd.service")
          machine.wait_for_open_port(22)
      with subtest("nix"):
          machine.succeed("nix-store --verify-path /run/current-system")
          machine.succeed("nix --version")
      with subtest("user management"):
          machine.succeed("id dev")
          machine.succeed("useradd -m tmpuser && id tmpuser && userdel -r tmpuser")
          machine.fail("id tmpuser")
      with subtest("basic"):
          # Type=notify: active only once the daemon said READY=1.
          machine.wait_for_unit("hardenctl.service")
          machine.succeed("systemctl show -p WatchdogUSec hardenctl.service | grep -v '=0$'")
          machine.succeed("systemctl show -p NRestarts --value hardenctl.service | grep -qx 0")
          machine.wait_until_succeeds("systemctl show -p StatusText --value hardenctl.service | grep -Eq '^(verify|updates): level standard'", timeout=300)
          machine.succeed("test -f /etc/hardenctl/policy.toml")
          machine.succeed("grep -q 'extends = \"standard\"' /etc/hardenctl/policy.toml")
          machine.succeed("journalctl -o json _SYSTEMD_UNIT=hardenctl.service | grep CHECK_ID | grep SEVERITY | grep -q OUTCOME")
      with subtest("reload"):
          pid = machine.succeed("systemctl show -p MainPID --value hardenctl.service").strip()
          # /etc/hardenctl/policy.toml links into the store: a file takes its place for the test.
          machine.succeed("cp --remove-destination \"$(readlink -f /etc/hardenctl/policy.toml)\" /etc/hardenctl/policy.toml.orig")
          machine.succeed("rm /etc/hardenctl/policy.toml && printf 'extends = \"minimal\"\\n[daemon]\\ninterval-typo = \"1m\"\\n' > /etc/hardenctl/policy.toml")
          machine.succeed("systemctl reload hardenctl.service")
          machine.wait_until_succeeds("journalctl -o cat _SYSTEMD_UNIT=hardenctl.service EVENT=reload-failed | grep -q 'keeping level standard.*policy.toml:3:1'", timeout=60)
          machine.succeed("systemctl is-active hardenctl.service")
          assert machine.succeed("systemctl show -p MainPID --value hardenctl.service").strip() == pid
          machine.succeed("mv -f /etc/hardenctl/policy.toml.orig /etc/hardenctl/policy.toml")
          machine.succeed("systemctl reload hardenctl.service")
          machine.wait_until_succeeds("journalctl -o cat _SYSTEMD_UNIT=hardenctl.service EVENT=reloaded | grep -q .", timeout=60)
          machine.wait_for_unit("hardenctl.service")
    '';
  };

  docker-services = test "docker-services" {
    nodes.machine = { ... }: {
      imports = [ (hardened "standard") ];
      virtualisation.docker.enable = true;
      virtualisation.diskSize = 4096;
    };
    testScript =
      let
        image = pkgs.dockerTools.buildImage {
          name = "hardenctl-test";
          tag = "latest";
          copyToRoot = [ pkgs.busybox ];
          config.Cmd = [ "/bin/sh" "-c" "echo container-ok" ];
        };
      in
      ''
        machine.wait_for_unit("docker.service")
        machine.succeed("docker info")
        machine.succeed("docker load < ${image}")
        out = machine.succeed("docker run --rm --network none hardenctl-test:latest")
        assert "container-ok" in out, out
      '';
  };

  dev-tools = test "dev-tools" {
    nodes.machine = { ... }: {
      imports = [ (hardened "standard") ../images/ros2.nix ];
      ros2Dev.enable = true;
      environment.systemPackages = with pkgs; [ git vim neovim python3 jq ripgrep tmux curl ];
      virtualisation.memorySize = 2048;
    };
    testScript = ''
      machine.wait_for_unit("multi-user.target")
      for cmd in ["git --version", "vim --version", "nvim --version", "python3 -c 'print(1+1)'",
                  "jq --version", "rg --version", "tmux -V", "curl --version", "colcon --help"]:
          machine.succeed(cmd)
      machine.succeed("git init /tmp/repo && git -C /tmp/repo -c user.email=t@t -c user.name=t commit --allow-empty -m x")
      machine.succeed("ros2 pkg list | grep -q demo_nodes_cpp")
      machine.succeed("test \"$ROS_DISTRO\" = jazzy || (. /etc/profile; test \"$ROS_DISTRO\" = jazzy)")
    '';
  };

  security-hardening = test "security-hardening" {
    nodes.server = { ... }: {
      imports = [ (hardened "standard") ];
      # The `drift` subtest: the agent repairs what it finds, every 20 s.
      security.hardening.sitePolicy = ''
        [daemon]
        enforce = true
        interval = "20s"
      '';
    };
    nodes.client = client;
    testScript = ''
      import json
      sysctls = json.loads('${builtins.toJSON standard.sysctl}')
      kernel_params = json.loads('${builtins.toJSON standard.kernelParams}')
      sshd_lines = json.loads('${builtins.toJSON expectedSshd}')
      audit_rules = json.loads('${builtins.toJSON standard.audit.rules}')

      start_all()
      server.wait_for_unit("multi-user.target")
      server.wait_for_unit("sshd.service")
      server.wait_for_unit("hardenctl.service")

      with subtest("kernel parameters at runtime"):
          for key, want in sysctls.items():
              got = server.succeed(f"sysctl -n {key}").strip()
              assert got == str(want), f"{key}: {got} != {want}"
          cmdline = server.succeed("cat /proc/cmdline").split()
          for p in kernel_params:
              assert p in cmdline, f"{p} not in {cmdline}"

      with subtest("effective sshd configuration"):
          effective = server.succeed("sshd -T -f /etc/ssh/sshd_config").splitlines()
          for line in sshd_lines:
              assert line in effective, f"sshd -T lacks: {line}"

      with subtest("nftables ruleset"):
          rules = server.succeed("nft list ruleset")
          assert "policy drop" in rules, rules
          assert "limit rate over 10/minute" in rules, rules

      with subtest("audit"):
          server.wait_for_unit("auditd.service")
          loaded = server.succeed("auditctl -l")
          for rule in audit_rules:
              if rule.startswith("-w "):
                  assert rule.split()[1] in loaded, f"{rule} not loaded: {loaded}"

      with subtest("hardenctl audit passes"):
          server.succeed("hardenctl audit --level standard")

      with subtest("password SSH login refused, key login accepted"):
          client.succeed("cp ${testKeys}/id_ed25519 /root/key && chmod 600 /root/key")
          client.succeed("ssh ${sshOpts} -i /root/key dev@server true")
          client.fail("sshpass -p 'correct horse battery staple' ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password,keyboard-interactive -o PubkeyAuthentication=no -o ConnectTimeout=5 dev@server true")

      with subtest("drift"):
          server.succeed("sysctl -qw kernel.kptr_restrict=0 net.ipv4.conf.all.accept_redirects=1")
          server.wait_until_succeeds("test $(sysctl -n kernel.kptr_restrict) = 2 && test $(sysctl -n net.ipv4.conf.all.accept_redirects) = 0", timeout=80)
          server.succeed("journalctl -o json _SYSTEMD_UNIT=hardenctl.service CHECK_ID=sysctl.kernel.kptr_restrict OUTCOME=repaired | grep -q .")

      with subtest("reboot"):
          # A ban made before the reboot is re-added by the daemon's login monitor after it.
          server.succeed("hardenctl bans add 192.0.2.99 --time 1h")
          server.shutdown()
          server.start()
          server.wait_for_unit("multi-user.target")
          server.wait_for_unit("hardenctl.service")
          server.wait_until_succeeds("nft list set inet hardenctl ban_v4 | grep -q 192.0.2.99", timeout=120)
          for key, want in sysctls.items():
              got = server.succeed(f"sysctl -n {key}").strip()
              assert got == str(want), f"after reboot {key}: {got} != {want}"
          effective = server.succeed("sshd -T -f /etc/ssh/sshd_config").splitlines()
          for line in sshd_lines:
              assert line in effective, f"after reboot sshd -T lacks: {line}"
          assert "policy drop" in server.succeed("nft list ruleset")
          server.succeed("hardenctl audit --level standard")
    '';
  };

  network = test "network" {
    nodes.server = { ... }: {
      imports = [ (hardened "standard") ];
      # A service the level does not open: reachable locally, dropped from the network.
      systemd.services.probe-http = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 -m http.server 8080";
      };
    };
    nodes.client = client;
    testScript = ''
      start_all()
      server.wait_for_unit("hardenctl.service")
      server.wait_for_unit("probe-http.service")
      server.wait_for_open_port(8080)

      with subtest("connectivity"):
          client.wait_until_succeeds("ping -c1 -W2 server")
          client.succeed("nc -z -w5 server 22")

      with subtest("only the level's ports are open"):
          server.succeed("nc -z -w5 127.0.0.1 8080")
          client.fail("nc -z -w5 server 8080")

      with subtest("bans"):
          # Keys the server does not know: each attempt is a failed authentication.
          client.succeed("ssh-keygen -q -t ed25519 -N ''' -f /root/wrong")
          for _ in range(12):
              client.execute("ssh ${sshOpts} -i /root/wrong dev@server true")
          client.wait_until_fails("nc -z -w3 server 22", timeout=120)
          server.succeed("journalctl -u hardenctl.service | grep -i ban")
    '';
  };
}

# security.hardening: applies one hardenctl policy level to a NixOS system and runs hardenctl's
# agent on it.
#
# The values come from the same policies/*.toml files the hardenctl binary embeds, resolved by
# ../lib/policy.nix and turned into option values by ../lib/settings.nix, so the NixOS
# configuration and `hardenctl audit --level <level>` cannot drift apart. Values a site may
# reasonably change are set with mkDefault; the kernel parameters, module blacklist and audit rules
# are lists that merge with the user's own.
#
# Besides the settings, the level decides which services run (policies' `[services]` table):
#   hardenctl.service                 the agent (`hardenctl daemon`): re-verifies the policy,
#                                     repairs sysctl drift, bans addresses that fail SSH logins
#   hardenctl-integrity.timer         (strict, only when the agent is off: the agent itself checks
#                                     integrity at strict) a scheduled `hardenctl integrity check`
#   hardenctl-update-check.timer      (standard, strict) warns when the running system's nixpkgs is
#                                     older than updateCheck.maxAgeDays: it misses security fixes
# Their unit names are the ones `hardenctl audit` looks for (services.* checks).
#
# The module needs nothing from nixpkgs at evaluation time but `lib` and, for the services, `pkgs`
# (only referenced lazily), so nix/tests/module-eval.nix evaluates it with nixpkgs' lib alone.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge mkDefault types mapAttrs concatMapStringsSep;
  cfg = config.security.hardening;
  policies = import ../lib/policy.nix { };
  settings = import ../lib/settings.nix policies.levels.${cfg.level};
  sshPorts = concatMapStringsSep ", " toString config.services.openssh.ports;
  hardenctl = "${cfg.package}/bin/hardenctl";

  # The site policy the agent and a live `hardenctl audit` read: the level, then the site's own
  # overrides and waivers (hardenctl's site-policy format, see docs/policy.md).
  sitePolicy = ''
    # Written by the NixOS module security.hardening: change the module's options, not this file.
    extends = "${cfg.level}"
  '' + cfg.sitePolicy;

  # The sandbox of the agent: the same directives as packaging/hardenctl.service (the Debian
  # package's unit, where each is explained); scripts/check-nix-module.sh compares the two. The
  # agent must write /proc/sys (sysctl repair) and change nftables (bans), so
  # ProtectKernelTunables stays off and it keeps CAP_SYS_ADMIN and CAP_NET_ADMIN; it reads every
  # configuration file it audits (CAP_DAC_READ_SEARCH) and audit rules (CAP_AUDIT_CONTROL), and
  # repairs owners and modes (CAP_CHOWN, CAP_FOWNER). The watchdog is longer than its longest
  # job on the loop (the integrity check runs on a thread of its own).
  daemonServiceConfig = {
    Type = "notify";
    ExecStart = "${hardenctl} daemon";
    ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
    Restart = "on-failure";
    RestartSec = "5s";
    WatchdogSec = "5min";
    StateDirectory = "hardenctl";
    StateDirectoryMode = "0700";
    ConfigurationDirectory = "hardenctl";
    UMask = "0077";

    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = "read-only";
    PrivateTmp = true;
    PrivateDevices = true;
    ProtectKernelTunables = false;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectProc = "invisible";
    PrivateMounts = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    # No RestrictSUIDSGID: systemd enforces it by failing every openat2() with ENOSYS, and every
    # read hardenctl makes is an openat2(RESOLVE_IN_ROOT) (packaging/hardenctl.service says more).
    RestrictRealtime = true;
    RestrictNamespaces = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@clock @cpu-emulation @debug @module @mount @obsolete @raw-io @reboot @resources @swap"
    ];
    SystemCallErrorNumber = "EPERM";
    RestrictAddressFamilies = [ "AF_UNIX" "AF_NETLINK" "AF_INET" "AF_INET6" ];
    CapabilityBoundingSet = [
      "CAP_NET_ADMIN" "CAP_SYS_ADMIN" "CAP_AUDIT_CONTROL" "CAP_DAC_READ_SEARCH" "CAP_CHOWN" "CAP_FOWNER"
    ];
  };
in
{
  options.security.hardening = {
    enable = mkEnableOption "the hardenctl security hardening policy";

    level = mkOption {
      type = types.enum [ "minimal" "standard" "strict" ];
      default = "standard";
      description = ''
        The hardenctl policy level to apply: `minimal` (development: basic kernel hardening,
        relaxed firewall), `standard` (production: full kernel and SSH hardening, audit logging,
        a drop-by-default firewall) or `strict` (standard plus kernel command line hardening, a
        module blacklist and a strict, logged firewall allow list). `hardenctl explain <check>`
        documents every setting.
      '';
    };

    package = mkOption {
      type = types.package;
      defaultText = lib.literalExpression "pkgs.hardenctl";
      description = ''
        The hardenctl package run by the agent and the timers. The flake's
        `nixosModules.default` sets it to the flake's own build; with `nixosModules.hardening`
        alone, set it (or add the flake's `overlays.default`).
      '';
    };

    sitePolicy = mkOption {
      type = types.lines;
      default = "";
      example = ''
        [sysctl]
        "net.ipv4.ip_forward" = 1

        [[waivers]]
        check = "sysctl.net.ipv4.ip_forward"
        reason = "this host routes for the lab network"
        owner = "ops@example.org"
      '';
      description = ''
        Extra lines of hardenctl's site policy, appended to /etc/hardenctl/policy.toml after
        `extends = "<level>"`: overrides and waivers the agent and `hardenctl audit` honour.
        An override here does not change the NixOS options this module sets: set those too.
      '';
    };

    auditd.enable = mkOption {
      type = types.bool;
      default = settings.audit.auditd;
      defaultText = lib.literalMD "`true` at levels standard and strict";
      description = "Whether to run auditd with the level's audit rules (identity files, sudoers, sshd_config, kernel modules).";
    };

    daemon.enable = mkOption {
      type = types.bool;
      default = settings.services.hardenctl;
      defaultText = lib.literalMD "`true` at every level";
      description = ''
        Whether to run the hardenctl agent (`hardenctl.service`, `hardenctl daemon`): it logs
        every check to the journal, re-verifies the policy on a schedule and on SIGHUP
        (`systemctl reload hardenctl`), repairs sysctl drift, and, from level standard on,
        bans addresses whose SSH logins keep failing (an nftables set). Its state is in
        /var/lib/hardenctl, its policy in /etc/hardenctl/policy.toml.
      '';
    };

    integrityTimer = {
      enable = mkOption {
        type = types.bool;
        # The agent checks file integrity itself at level strict (`[integrity] monitor`): the
        # timer is for a system that runs without it.
        default = settings.services.integrityTimer && !cfg.daemon.enable;
        defaultText = lib.literalMD "`true` at level strict when `daemon.enable` is off (the agent checks integrity itself)";
        description = "Whether to run `hardenctl integrity check` on a schedule (`hardenctl-integrity.timer`) against the baseline made by `hardenctl integrity init`.";
      };
      onCalendar = mkOption {
        type = types.str;
        default = "daily";
        description = "When the integrity check runs (systemd.time(7) calendar event).";
      };
    };

    updateCheck = {
      enable = mkOption {
        type = types.bool;
        default = settings.services.updateCheck;
        defaultText = lib.literalMD "`true` at levels standard and strict";
        description = ''
          Whether to check daily (`hardenctl-update-check.timer`) that the running system is
          not older than `maxAgeDays`: a NixOS system gets security fixes only by being rebuilt
          from a newer nixpkgs, so an old generation is an unpatched one. The unit fails, and
          says why in the journal, when it is. `system.autoUpgrade` is the alternative that
          also installs the update.
        '';
      };
      maxAgeDays = mkOption {
        type = types.ints.positive;
        default = 30;
        description = "Age of the running system's nixpkgs, in days, above which the update check fails.";
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      boot.kernel.sysctl = mapAttrs (_: mkDefault) settings.sysctl;
      boot.kernelParams = settings.kernelParams;
      boot.blacklistedKernelModules = settings.blacklistedKernelModules;
      services.openssh.settings = mapAttrs (_: mkDefault) settings.opensshSettings;
      environment.etc."hardenctl/policy.toml".text = sitePolicy;
    }

    (mkIf settings.firewall.enable {
      networking.firewall.enable = mkDefault true;
      networking.nftables.enable = mkDefault true;
      networking.firewall.logRefusedConnections = mkDefault settings.firewall.logRefusedConnections;
    })
    (mkIf (settings.firewall.allowedTCPPorts != null) {
      networking.firewall.allowedTCPPorts = settings.firewall.allowedTCPPorts;
    })
    (mkIf (settings.firewall.allowedUDPPorts != null) {
      networking.firewall.allowedUDPPorts = settings.firewall.allowedUDPPorts;
    })
    (mkIf settings.firewall.sshRateLimit {
      # Drop new SSH connections beyond 10 a minute before they are accepted. Not in
      # networking.firewall.extraInputRules: NixOS's nftables firewall puts those after its own
      # `tcp dport { 22 } accept` (chain input-allow), where a limit is never reached. A base
      # chain of its own on the input hook, run before the firewall's (priority -1 < filter),
      # drops the excess; what it lets through goes on to the firewall as before.
      networking.nftables.tables.hardenctl-ssh-limit = {
        family = "inet";
        content = ''
          chain input {
            type filter hook input priority -1; policy accept;
            tcp dport { ${sshPorts} } ct state new limit rate over 10/minute burst 20 packets drop
          }
        '';
      };
    })

    (mkIf cfg.auditd.enable {
      security.auditd.enable = true;
      security.audit.enable = mkDefault true;
      security.audit.rules = settings.audit.rules;
    })

    (mkIf cfg.daemon.enable {
      environment.systemPackages = [ cfg.package ];
      systemd.services.hardenctl = {
        description = "hardenctl security agent";
        wantedBy = [ "multi-user.target" ];
        after = [ "network.target" "nftables.service" "systemd-journald.service" ];
        # A new policy restarts the agent on switch; `systemctl reload` re-reads it in place.
        restartTriggers = [ sitePolicy ];
        # The live checks run these programs (sshd -T, nft, systemctl, auditctl, journal).
        path = [ config.programs.ssh.package pkgs.nftables config.systemd.package pkgs.audit ];
        serviceConfig = daemonServiceConfig;
      };
    })

    (mkIf cfg.integrityTimer.enable {
      systemd.services.hardenctl-integrity = {
        description = "hardenctl file integrity check";
        serviceConfig = {
          Type = "oneshot";
          ExecStart = "${hardenctl} integrity check";
          StateDirectory = "hardenctl";
          Nice = 19;
          IOSchedulingClass = "idle";
          NoNewPrivileges = true;
          ProtectSystem = "strict";
          PrivateTmp = true;
          PrivateNetwork = true;
        };
      };
      systemd.timers.hardenctl-integrity = {
        description = "hardenctl file integrity check, on a schedule";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.integrityTimer.onCalendar;
          Persistent = true;
          RandomizedDelaySec = "1h";
        };
      };
    })

    (mkIf cfg.updateCheck.enable {
      systemd.services.hardenctl-update-check = {
        description = "Check that the running NixOS system is recent enough to have its security fixes";
        serviceConfig = {
          Type = "oneshot";
          DynamicUser = true;
          NoNewPrivileges = true;
          PrivateNetwork = true;
        };
        # nixos-version is "<release>.<YYYYMMDD>.<rev>" (e.g. 25.11.20260804.e72e4f2): the date is
        # nixpkgs' last commit, the age that matters for security fixes.
        script = ''
          version=$(cat /run/current-system/nixos-version)
          day=$(printf '%s\n' "$version" | ${pkgs.gnugrep}/bin/grep -oE '\.[0-9]{8}\.' | tr -d .) || true
          if [ -z "$day" ]; then
            echo "<4>cannot tell the age of NixOS $version (no date in its version)"; exit 0
          fi
          age=$(( ( $(date +%s) - $(date -d "$day" +%s) ) / 86400 ))
          if [ "$age" -gt ${toString cfg.updateCheck.maxAgeDays} ]; then
            echo "<3>NixOS $version is $age days old (limit ${toString cfg.updateCheck.maxAgeDays}): rebuild from a newer nixpkgs to get its security fixes"
            exit 1
          fi
          echo "NixOS $version is $age days old (limit ${toString cfg.updateCheck.maxAgeDays})"
        '';
      };
      systemd.timers.hardenctl-update-check = {
        description = "Daily check that the running NixOS system is recent";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = "daily";
          Persistent = true;
          RandomizedDelaySec = "1h";
        };
      };
    })
  ]);
}

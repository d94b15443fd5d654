# security.hardening: applies one hardenctl policy level to a NixOS system.
#
# The values come from the same policies/*.toml files the hardenctl binary embeds, resolved by
# ../lib/policy.nix and turned into option values by ../lib/settings.nix, so the NixOS
# configuration and `hardenctl audit --level <level>` cannot drift apart. Values a site may
# reasonably change are set with mkDefault; the kernel parameters, module blacklist and audit rules
# are lists that merge with the user's own.
{ config, lib, ... }:
let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge mkDefault types mapAttrs concatMapStringsSep;
  cfg = config.security.hardening;
  policies = import ../lib/policy.nix { };
  settings = import ../lib/settings.nix policies.levels.${cfg.level};
  sshPorts = concatMapStringsSep ", " toString config.services.openssh.ports;
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

    auditd.enable = mkOption {
      type = types.bool;
      default = settings.audit.auditd;
      defaultText = lib.literalMD "`true` at levels standard and strict";
      description = "Whether to run auditd with the level's audit rules (identity files, sudoers, sshd_config, kernel modules).";
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      boot.kernel.sysctl = mapAttrs (_: mkDefault) settings.sysctl;
      boot.kernelParams = settings.kernelParams;
      boot.blacklistedKernelModules = settings.blacklistedKernelModules;
      services.openssh.settings = mapAttrs (_: mkDefault) settings.opensshSettings;
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
      # Drop new SSH connections beyond 10 a minute before they are accepted.
      networking.firewall.extraInputRules = ''
        tcp dport { ${sshPorts} } ct state new limit rate over 10/minute burst 20 packets drop
      '';
    })

    (mkIf cfg.auditd.enable {
      security.auditd.enable = true;
      security.audit.enable = mkDefault true;
      security.audit.rules = settings.audit.rules;
    })
  ]);
}

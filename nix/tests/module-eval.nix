# Evaluates the hardening module with nixpkgs' module system (lib.evalModules) against
# declarations of just the NixOS options it sets (same names and types as in nixpkgs), for one
# level, and returns the resulting values. No packages are needed, only nixpkgs' `lib`:
#
#   nix-instantiate --eval --strict --json nix/tests/module-eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --argstr level strict
#
# scripts/check-nix-module.sh runs it for every level and compares with hardenctl's own policy.
{ lib, level }:
let
  inherit (lib) mkOption types;
  stubs = {
    options = {
      boot.kernel.sysctl = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.str types.int ])); default = { }; };
      boot.kernelParams = mkOption { type = types.listOf types.str; default = [ ]; };
      boot.blacklistedKernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
      services.openssh.ports = mkOption { type = types.listOf types.port; default = [ 22 ]; };
      services.openssh.settings = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ])); default = { }; };
      networking.firewall.enable = mkOption { type = types.bool; default = true; };
      networking.firewall.logRefusedConnections = mkOption { type = types.bool; default = true; };
      networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
      networking.firewall.allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
      networking.firewall.extraInputRules = mkOption { type = types.lines; default = ""; };
      networking.nftables.enable = mkOption { type = types.bool; default = false; };
      security.auditd.enable = mkOption { type = types.bool; default = false; };
      security.audit.enable = mkOption { type = types.oneOf [ types.bool (types.enum [ "lock" ]) ]; default = false; };
      security.audit.rules = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };
  evaluated = lib.evalModules {
    modules = [
      stubs
      ../modules/hardening.nix
      { security.hardening = { enable = true; inherit level; }; }
    ];
  };
  c = evaluated.config;
in
{
  sysctl = c.boot.kernel.sysctl;
  kernelParams = c.boot.kernelParams;
  blacklistedKernelModules = c.boot.blacklistedKernelModules;
  opensshSettings = c.services.openssh.settings;
  firewall = {
    inherit (c.networking.firewall) enable logRefusedConnections allowedTCPPorts allowedUDPPorts extraInputRules;
    nftables = c.networking.nftables.enable;
  };
  audit = { auditd = c.security.auditd.enable; inherit (c.security.audit) enable rules; };
}

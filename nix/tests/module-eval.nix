# Evaluates the hardening module with nixpkgs' module system (lib.evalModules) against
# declarations of just the NixOS options it sets (same names and types as in nixpkgs), for one
# level, and returns the resulting values. No packages are needed, only nixpkgs' `lib`: the few
# packages the services name are stand-in derivations (their store paths only appear in strings).
#
#   nix-instantiate --eval --strict --json nix/tests/module-eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --argstr level strict
#
# scripts/check-nix-module.sh runs it for every level and compares with hardenctl's own policy.
# `lib` is nixpkgs' lib, or ./minilib.nix where nixpkgs is not available (the test suite).
# `module` is the module under test (the flake's nixosModules.default is checked too, with
# `setPackage = false` so that its own package default is used); `extraModules` are more
# definitions (the test suite checks that a mistyped option is rejected).
{ lib, level, module ? ../modules/hardening.nix, setPackage ? true, extraModules ? [ ] }:
let
  inherit (lib) mkOption types;
  standIn = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
  pkgs = lib.genAttrs [ "coreutils" "nftables" "audit" "gnugrep" "openssh" "systemd" "hardenctl" ] standIn
    // { callPackage = file: _: standIn "hardenctl-callPackage-${baseNameOf (toString file)}"; };
  anyAttrs = mkOption { type = types.lazyAttrsOf (types.lazyAttrsOf types.anything); default = { }; };
  stubs = {
    options = {
      environment.etc = mkOption { type = types.attrsOf (types.submodule { options.text = mkOption { type = types.lines; }; }); default = { }; };
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      programs.ssh.package = mkOption { type = types.package; default = pkgs.openssh; };
      systemd.package = mkOption { type = types.package; default = pkgs.systemd; };
      systemd.services = anyAttrs;
      systemd.timers = anyAttrs;
      boot.kernel.sysctl = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.str types.int ])); default = { }; };
      boot.kernelParams = mkOption { type = types.listOf types.str; default = [ ]; };
      boot.blacklistedKernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
      services.openssh.ports = mkOption { type = types.listOf types.port; default = [ 22 ]; };
      services.openssh.settings = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ])); default = { }; };
      networking.firewall.enable = mkOption { type = types.bool; default = true; };
      networking.firewall.logRefusedConnections = mkOption { type = types.bool; default = true; };
      networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
      networking.firewall.allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
      networking.nftables.enable = mkOption { type = types.bool; default = false; };
      networking.nftables.tables = anyAttrs;
      security.auditd.enable = mkOption { type = types.bool; default = false; };
      security.audit.enable = mkOption { type = types.oneOf [ types.bool (types.enum [ "lock" ]) ]; default = false; };
      security.audit.rules = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };
  evaluated = lib.evalModules {
    modules = [
      stubs
      module
      { security.hardening = { enable = true; inherit level; }; }
    ] ++ lib.optional setPackage { security.hardening.package = pkgs.hardenctl; } ++ extraModules;
    specialArgs = { inherit pkgs; };
  };
  c = evaluated.config;
in
{
  sysctl = c.boot.kernel.sysctl;
  kernelParams = c.boot.kernelParams;
  blacklistedKernelModules = c.boot.blacklistedKernelModules;
  opensshSettings = c.services.openssh.settings;
  firewall = {
    inherit (c.networking.firewall) enable logRefusedConnections allowedTCPPorts allowedUDPPorts;
    nftables = c.networking.nftables.enable;
    tables = c.networking.nftables.tables;
  };
  audit = { auditd = c.security.auditd.enable; inherit (c.security.audit) enable rules; };
  package = c.security.hardening.package.name;
  sitePolicyExample = evaluated.options.security.hardening.sitePolicy.example;
  sitePolicy = c.environment.etc."hardenctl/policy.toml".text;
  # Units, without the parts that only name store paths (scripts, PATH).
  services = lib.mapAttrs (_: u: removeAttrs u [ "script" "path" ]) c.systemd.services;
  timers = c.systemd.timers;
}

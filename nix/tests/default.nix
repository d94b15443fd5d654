# The flake's checks: the NixOS VM tests (./image-tests.nix) and an offline audit of each image's
# system toplevel: `hardenctl audit --image <toplevel> --level <the image's level>` must pass,
# with the SARIF, JSON and HTML reports kept in the check's output.
{ pkgs, self, lib }:
let
  auditImage = name: configuration:
    let
      toplevel = configuration.config.system.build.toplevel;
      level = configuration.config.security.hardening.level;
    in
    pkgs.runCommand "audit-${name}" { nativeBuildInputs = [ pkgs.hardenctl ]; } ''
      mkdir -p $out
      hardenctl audit --image ${toplevel} --level ${level} \
        --output $out/report.sarif --output $out/report.json --output $out/report.html
    '';
in
import ./image-tests.nix { inherit pkgs self; }
// lib.mapAttrs' (name: c: lib.nameValuePair "audit-${name}" (auditImage name c)) self.nixosConfigurations

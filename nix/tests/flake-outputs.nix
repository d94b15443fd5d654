# The flake's outputs, by name, without its inputs: flake.nix's `outputs` called with stand-ins
# for nixpkgs (only its `lib`), NixOS-WSL and nix-ros-overlay. Nothing that needs their sources is
# forced, so this runs offline with Debian's Nix 2.8 and ./minilib.nix (the test suite), or with
# nixpkgs' lib:
#   nix-instantiate --eval --strict --json nix/tests/flake-outputs.nix --arg lib 'import ./nix/tests/minilib.nix'
# It also evaluates the flake's nixosModules.default (the module with the flake's package).
{ lib }:
let
  inherit (builtins) attrNames mapAttrs;
  flake = import ../../flake.nix;
  unavailable = what: throw "${what} is not available in this offline evaluation";
  inputs = {
    nixpkgs = { inherit lib; outPath = unavailable "nixpkgs' source"; };
    nixos-wsl = { nixosModules.default = unavailable "NixOS-WSL"; };
    nix-ros-overlay = { overlays.default = unavailable "nix-ros-overlay"; nixosModules.default = unavailable "nix-ros-overlay"; };
  };
  self = flake.outputs (inputs // { inherit self; });
  perSystem = set: mapAttrs (_: attrNames) set;
  defaultModule = import ./module-eval.nix {
    inherit lib;
    level = "standard";
    module = self.nixosModules.default;
    setPackage = false;
  };
in
{
  inputs = attrNames flake.inputs;
  packages = perSystem self.packages;
  checks = perSystem self.checks;
  devShells = perSystem self.devShells;
  nixosModules = attrNames self.nixosModules;
  nixosConfigurations = attrNames self.nixosConfigurations;
  overlays = attrNames self.overlays;
  defaultModulePackage = defaultModule.package;
  defaultModuleDaemon = defaultModule.services.hardenctl.serviceConfig.ExecStart;
}

# Evaluates the ROS 2 environment module (../images/ros2.nix) with the module system against
# declarations of the options it sets, with a stand-in for nix-ros-overlay's package sets (names
# only): which packages go into the environment, the variables every shell gets and the firewall
# ports, per distro and switch. `lib` is nixpkgs' lib or ./minilib.nix, as for ./module-eval.nix:
#   nix-instantiate --eval --strict --json nix/tests/ros2-eval.nix --arg lib 'import ./nix/tests/minilib.nix' --argstr distro humble
{ lib, distro ? "jazzy", gui ? false, openDdsPorts ? false }:
let
  inherit (lib) mkOption types;
  standIn = name: { type = "derivation"; inherit name; outPath = "/nix/store/00000000000000000000000000000000-${name}"; };
  # The names nix/images/ros2.nix uses; scripts/check-nix-module.sh checks they exist upstream.
  rosNames = [ "ros-core" "ros2cli" "ros2launch" "demo-nodes-cpp" "demo-nodes-py" "rviz2" "turtlesim" ];
  rosSet = d: lib.genAttrs rosNames (n: standIn "${d}-${n}") // {
    buildEnv = { paths }: standIn "${d}-env(${builtins.concatStringsSep " " (map (p: p.name) paths)})";
  };
  pkgs = {
    rosPackages = { humble = rosSet "humble"; jazzy = rosSet "jazzy"; };
    colcon = standIn "colcon";
  };
  stubs.options = {
    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
    environment.variables = mkOption { type = types.attrsOf types.str; default = { }; };
    networking.firewall.allowedUDPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; };
  };
  c = (lib.evalModules {
    modules = [
      stubs
      ../images/ros2.nix
      { ros2Dev = { enable = true; inherit distro gui openDdsPorts; extraPackages = ros: [ ros.turtlesim ]; }; }
    ];
    specialArgs = { inherit pkgs; };
  }).config;
in
{
  packages = map (p: p.name) c.environment.systemPackages;
  variables = c.environment.variables;
  udpPortRanges = c.networking.firewall.allowedUDPPortRanges;
}

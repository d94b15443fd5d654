# ros2Dev: a ROS 2 development environment from nix-ros-overlay (ros-core, the command line
# tools, launch, demo nodes, colcon and, with `gui`, RViz 2), as system packages so every user's
# shell has it. The overlay must be in nixpkgs.overlays: the image aggregator adds it, and the
# VM tests build their nodes from a pkgs that already has it.
{ config, lib, pkgs, ... }:
let
  cfg = config.ros2Dev;
  ros = pkgs.rosPackages.${cfg.distro};
  rosEnv = ros.buildEnv {
    paths = with ros; [
      ros-core
      ros2cli
      ros2launch
      demo-nodes-cpp
      demo-nodes-py
    ] ++ lib.optionals cfg.gui [ rviz2 ] ++ cfg.extraPackages ros;
  };
in
{
  options.ros2Dev = {
    enable = lib.mkEnableOption "the ROS 2 development environment";
    distro = lib.mkOption {
      type = lib.types.enum [ "humble" "jazzy" ];
      default = "jazzy";
      description = "The ROS 2 distribution (nix-ros-overlay's `rosPackages.<distro>`).";
    };
    gui = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Whether to add RViz 2 (needs a display: the VM, the ISO, or WSLg).";
    };
    domainId = lib.mkOption {
      type = lib.types.ints.between 0 232;
      default = 0;
      description = "ROS_DOMAIN_ID for every shell: machines with the same id discover each other.";
    };
    openDdsPorts = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Whether to open the DDS discovery and data ports (UDP 7400-7700) in the firewall so other
        machines on the network see this one's ROS 2 nodes. Off by default: a hardened machine
        keeps ROS 2 traffic on the loopback interface unless asked.
      '';
    };
    extraPackages = lib.mkOption {
      type = lib.types.functionTo (lib.types.listOf lib.types.package);
      default = _: [ ];
      defaultText = lib.literalExpression "ros: [ ]";
      example = lib.literalExpression "ros: [ ros.turtlesim ros.nav2-bringup ]";
      description = "More packages of the chosen distro, given the distro's package set.";
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ rosEnv pkgs.colcon ];
    environment.variables = {
      ROS_DOMAIN_ID = toString cfg.domainId;
      ROS_DISTRO = cfg.distro;
    } // lib.optionalAttrs (!cfg.openDdsPorts) (
      # Without open ports, discovery beyond this machine would only time out. Humble has the
      # older switch; Iron and later replaced it with the discovery range.
      if cfg.distro == "humble"
      then { ROS_LOCALHOST_ONLY = "1"; }
      else { ROS_AUTOMATIC_DISCOVERY_RANGE = "LOCALHOST"; }
    );
    networking.firewall.allowedUDPPortRanges = lib.mkIf cfg.openDdsPorts [ { from = 7400; to = 7700; } ];
  };
}

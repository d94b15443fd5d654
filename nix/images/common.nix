# What every ROS 2 image has: the ROS 2 development environment, developer tools (git, editors,
# Python, the usual utilities), Docker, SSH (keys only, from the hardening level), a default user
# and hardenctl at the image's level (./security-hardening.nix).
{ config, lib, pkgs, ... }:
{
  imports = [ ./ros2.nix ./security-hardening.nix ];

  ros2Dev.enable = true;

  environment.systemPackages = with pkgs; [
    # version control and editors
    git git-lfs vim neovim nano
    # Python for ROS 2 tooling and scripts
    (python3.withPackages (ps: with ps; [ pip virtualenv numpy pyyaml ]))
    # build tools for colcon workspaces
    gcc gnumake cmake pkg-config
    # utilities
    curl wget jq ripgrep fd htop tmux tree file unzip zip rsync lsof
  ];

  virtualisation.docker.enable = true;

  services.openssh.enable = true;

  # The default user: in the wheel group for sudo and in docker; its SSH keys are the site's to
  # add (`users.users.ros.openssh.authorizedKeys.keys`), since password logins are refused.
  users.users.ros = {
    isNormalUser = true;
    description = "ROS 2 developer";
    extraGroups = [ "wheel" "docker" ];
    # Changed on first login: `passwd`. Only local consoles accept it (SSH is key-only).
    initialPassword = "ros";
  };
  security.sudo.wheelNeedsPassword = lib.mkDefault true;

  nix.settings = {
    experimental-features = [ "nix-command" "flakes" ];
    # nix-ros-overlay's binary cache, so `nix develop` and rebuilds inside the image do not compile ROS.
    extra-substituters = [ "https://ros.cachix.org" ];
    extra-trusted-public-keys = [ "ros.cachix.org-1:dSyZxI8geDCJrwgvCOHDoAfOm5sV1wCPjBkKL+38Rvo=" ];
    allowed-users = [ "@wheel" ];
  };

  documentation.man.enable = true;
  time.timeZone = lib.mkDefault "UTC";
  system.stateVersion = "25.11";
}

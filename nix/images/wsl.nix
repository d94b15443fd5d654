# The WSL image: NixOS-WSL's module (the system runs in WSL 2's own kernel, so there is no boot
# loader, kernel or kernel command line in it: the level's kernel parameters do not apply and
# hardenctl reports them not applicable). Build the tarball builder, then run it as root:
#   nix build .#wsl-ros2 && sudo ./result/bin/nixos-wsl-tarball-builder   # writes ./nixos.wsl
{ lib, ... }:
{
  wsl = {
    enable = true;
    defaultUser = "ros";
    startMenuLaunchers = true;
    # WSLg gives RViz a display.
    useWindowsDriver = true;
  };
  networking.hostName = "nixos-ros2-wsl";
  ros2Dev.gui = true;
  # WSL logs the user in without a password; keep the default user's password unset.
  users.users.ros.initialPassword = lib.mkForce null;
}

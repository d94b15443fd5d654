# The live ISO (BIOS and UEFI, also bootable from a USB stick): the ROS 2 environment with RViz,
# running from a compressed squashfs of the store. Output: result/iso/*.iso.
{ modulesPath, lib, pkgs, ... }:
{
  imports = [
    "${modulesPath}/installer/cd-dvd/iso-image.nix"
    "${modulesPath}/profiles/all-hardware.nix"
  ];
  isoImage = {
    makeEfiBootable = true;
    makeUsbBootable = true;
    # zstd decompresses several times faster than xz at boot, for a slightly larger image.
    squashfsCompression = "zstd -Xcompression-level 19";
  };
  networking.hostName = "nixos-ros2-live";
  networking.networkmanager.enable = true;
  users.users.ros.extraGroups = [ "networkmanager" ];
  ros2Dev.gui = true;
  services.xserver = {
    enable = true;
    desktopManager.xfce.enable = true;
  };
  services.displayManager.autoLogin = { enable = true; user = "ros"; };
}

# The VM image, two ways from one configuration:
#   nix build .#vm-ros2        -> ./result/bin/run-nixos-ros2-vm (QEMU, shares the host's store;
#                                 its disk ./nixos-ros2.qcow2 is made on first run)
#   nix build .#vm-ros2-disk   -> ./result/nixos.qcow2, a self-contained bootable disk (GRUB, ext4)
# The host name makes the run script's name (run-${system.name}-vm).
{ config, lib, pkgs, modulesPath, ... }:
{
  networking.hostName = "nixos-ros2";
  ros2Dev.gui = true;

  # The installed disk: GRUB on the first disk, the root file system by label (make-disk-image's
  # default label "nixos").
  boot.loader.grub.device = lib.mkDefault "/dev/vda";
  fileSystems."/" = { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; autoResize = true; };
  boot.growPartition = true;
  boot.initrd.availableKernelModules = [ "virtio_pci" "virtio_blk" "virtio_net" "9p" "9pnet_virtio" ];
  services.qemuGuest.enable = true;

  # `nixos-rebuild build-vm` / system.build.vm: resources and SSH from the host (port 2222).
  virtualisation.vmVariant.virtualisation = {
    memorySize = 4096;
    cores = 2;
    diskSize = 8192;
    forwardPorts = [ { from = "host"; host.port = 2222; guest.port = 22; } ];
  };

  system.build.diskImage = import "${modulesPath}/../lib/make-disk-image.nix" {
    inherit lib config pkgs;
    format = "qcow2-compressed";
    partitionTableType = "legacy";
    diskSize = "auto";
    additionalSpace = "2048M";
  };
}

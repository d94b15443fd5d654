# The three ROS 2 images as NixOS configurations (the flake's nixosConfigurations): each is the
# common module (ROS 2, developer tools, Docker, SSH, hardenctl) plus its own.
{ self, nixpkgs, nixos-wsl, nix-ros-overlay }:
let
  image = modules: nixpkgs.lib.nixosSystem {
    system = "x86_64-linux";
    modules = [
      self.nixosModules.default
      nix-ros-overlay.nixosModules.default
      { nixpkgs.overlays = [ nix-ros-overlay.overlays.default ]; }
      ./common.nix
    ] ++ modules;
  };
in
{
  wsl-ros2 = image [ nixos-wsl.nixosModules.default ./wsl.nix ];
  iso-ros2 = image [ ./iso.nix ];
  vm-ros2 = image [ ./vm.nix ];
}

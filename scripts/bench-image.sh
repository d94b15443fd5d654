#!/usr/bin/env bash
# Benchmark of `hardenctl audit --image` on a >= 1 GB tarball against the plain decompressor.
#
# Builds a root from tests/fixtures/roots/hardened plus SIZE_MB of barely compressible filler under
# /usr/share and /nix/store (files the index does not keep), packs it as .tar.gz, .tar.zst and
# .tar.xz, and for each measures wall time and peak RSS of
#   hardenctl audit --image FILE           (one pass: decompress, index, hash, audit)
#   zcat|zstdcat|xzcat FILE > /dev/null    (decompression only)
# with /usr/bin/time. Everything is created under a temporary directory that is deleted at the end.
# With OSCAP=1 (needs openscap-utils and ssg-debian), also what a user does without hardenctl:
#   tar -xzf FILE -C DIR, then oscap-chroot DIR xccdf eval --profile standard (the newest
#   ssg-debian data stream with its OS platform line removed, as scripts/bench.sh does, so that the
#   rules are evaluated on the fixture root rather than all found not applicable).
# FORMATS="gz" skips the zstd and xz variants (default: "gz zst xz").
# Usage: scripts/bench-image.sh [SIZE_MB]  (default 1100); needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${OSCAP:-0}" = 1 ] && ! command -v oscap-chroot >/dev/null; then
  echo "OSCAP=1 needs oscap-chroot: apt-get install openscap-utils ssg-debian" >&2; exit 2
fi
size_mb=${1:-1100}
bin=${CARGO_TARGET_DIR:-target}/release/hardenctl
[ -x "$bin" ] || cargo build --release
work=$(mktemp -d /var/tmp/hardenctl-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

root="$work/root"
cp -a tests/fixtures/roots/hardened "$root"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
chmod 0600 "$root"/etc/ssh/ssh_host_*_key
# Filler: 1 MiB files of text-like pseudo-random data (compresses about 1.3:1, like binaries).
mkdir -p "$root/usr/share/filler" "$root/nix/store"
python3 - "$root" "$size_mb" <<'PY'
import os, random, sys
root, size = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randint(2, 9))) for _ in range(4096)]
for i in range(size):
    d = f"{root}/usr/share/filler" if i % 2 else f"{root}/nix/store/{i:032d}-pkg-{i}/lib"
    os.makedirs(d, exist_ok=True)
    chunk = bytearray(os.urandom(700 * 1024))
    while len(chunk) < 1024 * 1024:
        chunk += rnd.choice(words) + b" "
    with open(f"{d}/f{i}", "wb") as f:
        f.write(chunk[:1024 * 1024])
PY
tar --numeric-owner -C "$root" -cf "$work/img.tar" .
rm -rf "$root"
formats=${FORMATS:-gz zst xz}
gzip -c "$work/img.tar" > "$work/img.tar.gz"
case " $formats " in *" zst "*) zstd -q -c "$work/img.tar" > "$work/img.tar.zst" ;; esac
case " $formats " in *" xz "*) xz -T0 -c "$work/img.tar" > "$work/img.tar.xz" ;; esac
echo "tar: $(stat -c %s "$work/img.tar") bytes"
rm -f "$work/img.tar"

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" > /dev/null 2>"$work/err" || [ $? -eq 1 ]
  read -r secs kib < "$work/t"
  printf '%-28s %7.2f s  %6d KiB peak RSS\n' "$label" "$secs" "$kib"
}
for ext in $formats; do
  f=img.tar.$ext
  echo "$f: $(stat -c %s "$work/$f") bytes"
  case $f in *.gz) dec=zcat ;; *.zst) dec=zstdcat ;; *.xz) dec=xzcat ;; esac
  cat "$work/$f" > /dev/null # warm the page cache
  measure "$dec" sh -c "$dec '$work/$f' > /dev/null"
  measure "hardenctl audit --image" "$bin" audit --format json --image "$work/$f"
done

if [ "${OSCAP:-0}" = 1 ]; then
  content=/usr/share/xml/scap/ssg/content
  ds=$(ls "$content"/ssg-debian*-ds.xml | grep -E 'debian[0-9]+-ds\.xml$' | sort -V | tail -1)
  sed -E '/<xccdf-1\.2:platform idref="cpe:\/o:debian:debian_linux:[0-9]+"\/>/d' "$ds" > "$work/ds.xml"
  profile=xccdf_org.ssgproject.content_profile_standard
  mkdir "$work/x"
  measure "tar -xzf" tar -xzf "$work/img.tar.gz" -C "$work/x"
  # oscap exits 2 when a rule fails: that is a result, not a benchmark error.
  measure "oscap-chroot xccdf eval" sh -c "oscap-chroot '$work/x' xccdf eval --profile $profile '$work/ds.xml' > '$work/oscap.out'; [ \$? -le 2 ]"
  echo "oscap: $(grep -c '^Result' "$work/oscap.out") rules ($(grep '^Result' "$work/oscap.out" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}'))"
  rm -rf "$work/x"
  measure "hardenctl audit --image" "$bin" audit --format json --image "$work/img.tar.gz"
fi

#!/usr/bin/env bash
# Benchmark: `hardenctl integrity init` / `check` over a tree (default /usr) against AIDE 0.18 with an
# equivalent configuration (type, permissions, owner, group, size, link target, sha256,
# capabilities) and against the parallel hashing pipeline
# `find TREE -type f -print0 | xargs -0 -P2 -n256 openssl sha256` (OpenSSL uses SHA-NI).
#
# Run as root on Debian. Installs aide if missing (with a policy-rc.d that exits 101 so that no
# service is started), builds the release binary, warms the page cache, then runs every tool
# RUNS times in turn and prints one line per run: tool, wall seconds, CPU seconds (user+sys,
# children included), peak RSS in KiB (GNU time's %M: the largest process). Knobs: TREE, RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."

TREE=${TREE:-/usr}
RUNS=${RUNS:-3}

if ! command -v aide >/dev/null 2>&1; then
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends aide >/dev/null
  [ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
command -v openssl >/dev/null && [ -x /usr/bin/time ] || { echo "needs openssl and GNU time" >&2; exit 2; }

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/hardenctl

work=$(mktemp -d /tmp/hc-bench-integrity.XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '[integrity]\npaths = ["%s"]\nexclude = []\n' "$TREE" > "$work/policy.toml"
cat > "$work/aide.conf" <<CONF
database_in=file:$work/aide.db
database_out=file:$work/aide.db.new
gzip_dbout=no
report_url=stdout
Equiv = ftype+p+u+g+s+l+sha256+caps
$TREE Equiv
CONF
# AIDE runs with one worker unless told otherwise (AIDE 0.18: num_workers); the second config
# gives it both cores, the same as hardenctl and the openssl pipeline get.
sed 's/^gzip_dbout=no/gzip_dbout=no\nnum_workers=2/' "$work/aide.conf" > "$work/aide2.conf"

echo "warming the page cache over $TREE" >&2
find "$TREE" -type f -print0 | xargs -0 cat > /dev/null 2>&1 || true

measure() { # name command...
  local name=$1; shift
  # aide --check exits non-zero when it finds differences; GNU time then writes a "Command exited
  # with non-zero status" line first, so the figures are on the last line.
  # The exit status is printed too, so that a run that failed (2) is not read as a fast one.
  local rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" > "$work/out" 2>"$work/err" || rc=$?
  read -r wall user sys rss < <(tail -n 1 "$work/time")
  printf '%-24s wall %7.2f s  cpu %7.2f s  rss %7d KiB  exit %d\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$rss" "$rc"
}

for run in $(seq "$RUNS"); do
  echo "run $run" >&2
  measure "hardenctl init" "$bin" integrity init --policy "$work/policy.toml" --db "$work/hc.db"
  measure "hardenctl check" "$bin" integrity check --db "$work/hc.db"
  measure "openssl pipeline" sh -c "find '$TREE' -type f -print0 | xargs -0 -P2 -n256 openssl sha256 > /dev/null"
  measure "aide --init" aide --config "$work/aide.conf" --init
  mv "$work/aide.db.new" "$work/aide.db"
  measure "aide --check" aide --config "$work/aide.conf" --check
  measure "aide --init (2 workers)" aide --config "$work/aide2.conf" --init
  measure "aide --check (2 workers)" aide --config "$work/aide2.conf" --check
done
echo "entries: $(($(wc -l < "$work/hc.db") - 1)) in hardenctl's baseline ($(stat -c %s "$work/hc.db") bytes)"
echo "aide database: $(stat -c %s "$work/aide.db") bytes"

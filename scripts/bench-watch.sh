#!/usr/bin/env bash
# Memory and speed of the failed-login monitor (`hardenctl logins watch`) under a flood of
# distinct attacking addresses. Runs inside a network namespace it creates (the bans go to that
# namespace's nftables, never the root namespace's) and removes it afterwards.
#
#   scripts/bench-watch.sh [ADDRESSES] [FAILURES-PER-ADDRESS]
#   MONITOR=daemon scripts/bench-watch.sh ...   # the same monitor hosted by `hardenctl daemon`
#                                                # (level standard, verifying the live host too)
#
# 1 failure per address (default) scores every address without banning any: the scanner's
# windows grow. 3 failures per address (threshold 30 at the standard level) ban every address:
# the state file and the nftables set grow. Prints lines/s and the monitor's peak RSS (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
per=${2:-1}
bin=${HARDENCTL:-${CARGO_TARGET_DIR:-target}/release/hardenctl}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }

ns="hc-bench-watch-$$"
tmp=$(mktemp -d)
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"

log="$tmp/auth.log"
: >"$log"
state="$tmp/bans.json"
if [ "${MONITOR:-watch}" = daemon ]; then
  mkdir -p "$tmp/persist"
  state="$tmp/persist/var/lib/hardenctl/bans.json"
  printf 'extends = "standard"\n[daemon]\ninterval = "1h"\nupdate-interval = "1d"\n[logins]\nmonitor = true\njournal = false\nfiles = ["%s"]\n' \
    "$log" >"$tmp/policy.toml"
  ip netns exec "$ns" "$bin" daemon --policy "$tmp/policy.toml" --persist-root "$tmp/persist" \
    >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  # The flood starts once the first verification and update checks are done: until then they
  # hold the daemon's loop (measured apart, see docs/benchmarks.md).
  ready="JOB=updates"
  banned="EVENT=ban "
  out="$tmp/err"
else
  ip netns exec "$ns" "$bin" logins watch --file "$log" --state "$state" --level standard \
    --interval 50 >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  ready="watching"
  banned="^ban "
  out="$tmp/out"
fi
for _ in $(seq 1200); do grep -q "$ready" "$out" 2>/dev/null && break; sleep 0.1; done
sleep 1

python3 - "$n" "$per" >"$tmp/flood" <<'EOF'
import sys, time
n, per = int(sys.argv[1]), int(sys.argv[2])
stamp = time.strftime("%b %e %H:%M:%S", time.gmtime())
out = sys.stdout
for r in range(per):
    for i in range(n):
        a = f"{100 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.7"
        out.write(f"{stamp} host sshd[{1000 + i}]: Failed password for invalid user u{i} from {a} port {40000 + r} ssh2\n")
EOF
lines=$(wc -l <"$tmp/flood")
size=$(stat -c %s "$tmp/flood")
start=$(date +%s.%N)
cat "$tmp/flood" >>"$log"
# Done when the saved read position reaches the end of the log.
while :; do
  off=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"][sys.argv[2]]["offset"])' \
    "$state" "$log" 2>/dev/null || echo 0)
  [ "$off" = "$size" ] && break
  kill -0 "$pid" || { cat "$tmp/err"; exit 1; }
  sleep 0.05
done
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
# Bans are logged after their commit's nft transaction: give the last one a moment.
sleep 2
bans=$(grep -c "$banned" "$out" || true)
elems=$(ip netns exec "$ns" nft -j list set inet hardenctl ban_v4 | python3 -c 'import json,sys; print(sum(len(o.get("set",{}).get("elem",[])) for o in json.load(sys.stdin)["nftables"]))')
python3 - "$lines" "$start" "$end" "$hwm" "$n" "$per" "$bans" "$elems" <<'EOF'
import sys
lines, start, end, hwm, n, per, bans, elems = sys.argv[1:]
secs = float(end) - float(start)
print(f"{n} addresses x {per} failures = {lines} lines in {secs:.2f} s "
      f"({int(lines) / secs:,.0f} lines/s); peak RSS {int(hwm) / 1024:.1f} MiB; "
      f"bans printed {bans}, elements in ban_v4 {elems}")
EOF

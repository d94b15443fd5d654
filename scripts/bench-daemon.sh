#!/usr/bin/env bash
# Steady memory and CPU of `hardenctl daemon` on this live host: verification every INTERVAL
# (default 10s) for DURATION seconds (default 180), sampled every 10 s from /proc. Read-only: the
# daemon only audits (no enforce). CPU counts the daemon itself and, separately, the commands it
# runs (sshd -T, nft, auditctl, apt-get -s), which the kernel adds to its children's time.
# Usage: scripts/bench-daemon.sh [DURATION_S] [INTERVAL]   (needs root: sshd -T, nft, apt)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-180}"
interval="${2:-10s}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -q
bin="$target_dir/release/hardenctl"
log=$(mktemp)
"$bin" daemon --interval "$interval" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
tck=$(getconf CLK_TCK)
sample() {
  # utime stime cutime cstime are fields 14-17 of /proc/PID/stat (after the command name).
  local stat rss
  stat=$(sed 's/^.*) //' "/proc/$pid/stat")
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  echo "$(date +%s.%N) $rss $(echo "$stat" | awk '{print $12, $13, $14, $15}')"
}
# The first round (and its one apt-get -s upgrade, for the 6-hourly update checks) is start-up,
# not steady state: sampling starts once it is done.
until grep -q 'updates.pending-security' "$log"; do sleep 1; done
echo "start-up: $(sample | awk -v tck="$tck" '{printf "RSS %d KiB, daemon CPU %.2f s, its commands %.2f s", $2, ($3 + $4) / tck, ($5 + $6) / tck}')"
start=$(sample)
echo "t_s rss_kib self_cpu_s children_cpu_s"
t0=$(echo "$start" | cut -d' ' -f1)
last=$start
for ((i = 10; i <= duration; i += 10)); do
  sleep 10
  last=$(sample)
  echo "$last" | awk -v t0="$t0" -v tck="$tck" '{printf "%.0f %d %.2f %.2f\n", $1 - t0, $2, ($3 + $4) / tck, ($5 + $6) / tck}'
done
echo "$start" "$last" | awk -v tck="$tck" '{
  dt = $7 - $1
  printf "over %.0f s: daemon CPU %.2f%% of one core, its commands %.2f%%, RSS at end %d KiB\n",
    dt, 100 * (($9 + $10) - ($3 + $4)) / tck / dt, 100 * (($11 + $12) - ($5 + $6)) / tck / dt, $8
}'
echo "verification cycles: $(grep -c 'verification: level' "$log")"
kill -TERM "$pid"
wait "$pid"
echo "exit status after SIGTERM: $?"

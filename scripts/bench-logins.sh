#!/usr/bin/env bash
# Benchmark of `hardenctl logins scan` against the parsers a user would otherwise run on the same
# auth log, in one run: fail2ban-regex with fail2ban's sshd filter, and sshguard's sshg-parser.
# Builds a log of N lines (default 1,000,000) from the annotated corpus with varied addresses, runs
# hardenctl and sshg-parser back to back REPS times (default 5; fail2ban-regex, which takes minutes,
# F2B_REPS times, default 1) and prints the median time of each with lines/s, detections and peak
# RSS; then the peak RSS of `logins scan` on two floods of 100,000 distinct attacking addresses,
# and of the monitor (`logins watch`, what the daemon runs) on the same floods, through
# scripts/bench-watch.sh in a network namespace it creates and removes. Installs the peers with
# policy-rc.d in place so that neither daemon is started (they would change the firewall).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
reps=${REPS:-5}
f2b_reps=${F2B_REPS:-1}

need=()
command -v fail2ban-regex >/dev/null || need+=(fail2ban)
[ -x /usr/libexec/sshguard/sshg-parser ] || need+=(sshguard)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; added=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
  [ -z "$added" ] || rm -f /usr/sbin/policy-rc.d
fi
cargo build --release --locked >&2
bin=${CARGO_TARGET_DIR:-target}/release/hardenctl

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
log=$dir/auth.log
python3 - "$lines" "$log" <<'PY'
import random, sys
n, out = int(sys.argv[1]), sys.argv[2]
# Lines with a host name instead of an address are left out: sshg-parser resolves them through DNS,
# and with no resolver reachable each lookup waits for a timeout, which would measure DNS, not parsing.
corpus = [l.split("\t", 3)[3].rstrip("\n") for l in open("tests/fixtures/logins/corpus.tsv")
          if not l.startswith("#") and "scanner.example.net" not in l]
noise = [l.rstrip("\n") for l in open("tests/fixtures/logins/noise.log") if l.strip()]
rnd = random.Random(7)
with open(out, "w") as f:
    for i in range(n):
        line = rnd.choice(corpus) if rnd.random() < 0.7 else rnd.choice(noise)
        # Spread the attacks over many addresses, as a real log has them.
        a = f"203.0.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        f.write(line.replace("203.0.113.5", a) + "\n")
PY

measure() { # name, command...
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$dir/$name.rss" "$@" > "$dir/$name.out" 2> "$dir/$name.err" || true
  end=$(date +%s.%N)
  echo "$name $(echo "$end - $start" | bc) $(cat "$dir/$name.rss")"
}
cat "$log" > /dev/null  # warm the page cache
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
{
  # Back to back, alternating, so that both see the same load.
  for _ in $(seq "$reps"); do
    measure hardenctl "$bin" logins scan --format json --level standard "$log"
    measure sshguard sh -c "/usr/libexec/sshguard/sshg-parser < '$log'"
  done
  for _ in $(seq "$f2b_reps"); do
    measure fail2ban fail2ban-regex "$log" /etc/fail2ban/filter.d/sshd.conf
  done
} > "$dir/times"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
hd=$(python3 -c "import json;print(json.load(open('$dir/hardenctl.out'))['failures'])")
hw=$(python3 -c "import json;print(sum(1 for e in json.load(open('$dir/hardenctl.out'))['events'] if e['weight']>0))")
fd=$(grep -oE "^Lines: [0-9]+ lines, [0-9]+ ignored, [0-9]+ matched" "$dir/fail2ban.out" | grep -oE "[0-9]+ matched" | grep -oE "[0-9]+" || echo "?")
sd=$(grep -c . "$dir/sshguard.out" || true)
python3 - "$lines" "$dir/times" "$hd" "$hw" "$fd" "$sd" <<'PY'
import sys
n, times, hd, hw, fd, sd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
import statistics
runs = {}
for l in open(times):
    name, secs, rss = l.split()
    runs.setdefault(name, []).append((float(secs), int(rss) / 1024))
# The median time of each tool, and the largest peak RSS of its runs.
t = {name: (statistics.median(s for s, _ in r), max(m for _, m in r)) for name, r in runs.items()}
for name, r in runs.items():
    print(f"{name}: {len(r)} run(s), times " + ", ".join(f"{s:.2f}" for s, _ in r))
det = {"hardenctl": f"{hd} events ({hw} with an address and weight)", "fail2ban": f"{fd} matched", "sshguard": f"{sd} attacks"}
print(f"| tool | median time | lines/s | detections | peak RSS (MiB) |\n|---|---|---|---|---|")
for name in ("hardenctl", "fail2ban", "sshguard"):
    secs, rss = t[name]
    print(f"| {name} | {secs:.2f} s | {n/secs:,.0f} | {det[name]} | {rss:.1f} |")
h = t["hardenctl"][0]
print(f"\nhardenctl vs fail2ban-regex: {t['fail2ban'][0]/h:.1f}x lines/s; vs sshg-parser: {t['sshguard'][0]/h:.1f}x")
PY

# Floods: 100,000 distinct addresses, each failing twice (20 of the standard 30 points: every
# address stays below the threshold, the worst case for tracking) or three times (every address
# is banned and reported). Peak RSS from /usr/bin/time -v.
for hits in 2 3; do
  python3 - "$hits" "$dir/flood.log" <<'PY'
import sys
hits, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for r in range(hits):
        for i in range(100_000):
            t = r * 100 + i // 1000
            f.write(f"Nov 27 00:{t // 60:02}:{t % 60:02} web1 sshd[{1000 + i}]: Failed password for root "
                    f"from 198.{18 + (i >> 16)}.{(i >> 8) & 255}.{i & 255} port 40000 ssh2\n")
PY
  /usr/bin/time -v "$bin" logins scan --level standard "$dir/flood.log" > "$dir/flood.out" 2> "$dir/flood.time"
  rss=$(grep -oP "Maximum resident set size \(kbytes\): \K[0-9]+" "$dir/flood.time")
  echo "flood of 100,000 addresses x $hits failures: peak RSS $((rss / 1024)).$(( (rss % 1024) * 10 / 1024 )) MiB;" \
    "$(grep -c '^ban ' "$dir/flood.out") banned; $(grep -oE '^[0-9]+ windows below' "$dir/flood.out" | grep -oE '^[0-9]+' || echo 0) windows evicted"
done

# The monitor (`hardenctl logins watch`, the object the daemon hosts) on the same floods: each
# address failing once (scored, none banned) and three times (every address it still tracks is
# banned: bans, the state file and the nftables batches grow).
for per in 1 3; do
  HARDENCTL="$bin" scripts/bench-watch.sh 100000 "$per"
done

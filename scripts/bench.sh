#!/usr/bin/env bash
# Benchmarks `hardenctl audit --level standard` (release build) against Lynis and OpenSCAP on this
# host, in one run, and prints a Markdown table: median wall-clock time, CPU time, peak RSS, ratios.
#
#   sudo scripts/bench.sh            # defaults below; outputs of every run kept under a temp dir
#
# Knobs (environment):
#   HARDENCTL_RUNS=30  HARDENCTL_WARMUP=3   timed runs of hardenctl (hyperfine) and warm-up runs
#   RSS_RUNS=5                              runs of hardenctl under /usr/bin/time -v for peak RSS
#   LYNIS_RUNS=3   OSCAP_RUNS=5             timed runs of the peers (each one also measures RSS)
#   PEER_WARMUP=1                           untimed warm-up runs of each peer (page cache, as for
#                                           hardenctl's warm-up)
#   OSCAP_DS=path  OSCAP_PROFILE=id         data stream and profile (default: ssg-debian<host>-ds.xml
#                                           if present, else the newest Debian one; profile standard)
#   BENCH_OUT=dir                           where outputs go (default: a new mktemp -d)
#
# Every tool runs as root with its defaults and only reads: `lynis audit system --quick`,
# `oscap xccdf eval` without --remediate, `hardenctl audit`. Lynis still writes its usual
# /var/log/lynis.log and /var/log/lynis-report.dat. Non-zero exits that mean "findings"
# (hardenctl 1, oscap 2) are not benchmark errors; hardenctl 2 / oscap 1 are.
#
# Peak RSS is GNU time's "Maximum resident set size", i.e. wait4()'s ru_maxrss: the largest single
# process of the tool's process tree (for Lynis, a shell script, that is its biggest process, not
# the sum; for hardenctl, once it spawns `sshd -T` or `nft`, the larger of it and its children).
set -euo pipefail
cd "$(dirname "$0")/.."

HARDENCTL_RUNS=${HARDENCTL_RUNS:-30}
HARDENCTL_WARMUP=${HARDENCTL_WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-5}
LYNIS_RUNS=${LYNIS_RUNS:-3}
OSCAP_RUNS=${OSCAP_RUNS:-5}
PEER_WARMUP=${PEER_WARMUP:-1}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root: the audits read root-only files (/etc/shadow, ...)"

# --- what is missing -------------------------------------------------------------------------
packages=(lynis openscap-scanner ssg-debderived ssg-debian time hyperfine jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi
command -v cargo >/dev/null || die "cargo not found"

# --- build -----------------------------------------------------------------------------------
log "building hardenctl (release)"
cargo build --release --locked >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
HARDENCTL="$target_dir/release/hardenctl"
[ -x "$HARDENCTL" ] || die "$HARDENCTL not built"

OUT=${BENCH_OUT:-$(mktemp -d /tmp/hardenctl-bench.XXXXXX)}
mkdir -p "$OUT"
log "outputs under $OUT"

# --- OpenSCAP content ------------------------------------------------------------------------
host_major=$(cut -d. -f1 /etc/debian_version 2>/dev/null || true)
content=/usr/share/xml/scap/ssg/content
if [ -z "${OSCAP_DS:-}" ]; then
  if [ -n "$host_major" ] && [ -f "$content/ssg-debian${host_major}-ds.xml" ]; then
    OSCAP_DS="$content/ssg-debian${host_major}-ds.xml"
  else
    OSCAP_DS=$(ls "$content"/ssg-debian*-ds.xml 2>/dev/null | grep -E 'debian[0-9]+-ds\.xml$' | sort -V | tail -1)
  fi
fi
[ -f "$OSCAP_DS" ] || die "no Debian SCAP data stream found under $content"
OSCAP_PROFILE=${OSCAP_PROFILE:-xccdf_org.ssgproject.content_profile_standard}
oscap info "$OSCAP_DS" 2>/dev/null | grep -q "Id: $OSCAP_PROFILE\$" || die "$OSCAP_PROFILE not in $OSCAP_DS"
ds_major=$(basename "$OSCAP_DS" | sed -E 's/^ssg-debian([0-9]+)-ds\.xml$/\1/')
# A data stream for another Debian release carries a benchmark-level platform CPE
# (cpe:/o:debian:debian_linux:N) that makes every rule "notapplicable" on this host: oscap then
# evaluates nothing. When that happens, a second, comparable row runs a copy with only that one
# <platform> line removed (rule-level platforms such as "machine" stay, so oscap's own
# applicability logic is unchanged).
OSCAP_DS_PATCHED=""
if [ -n "$host_major" ] && [ "$ds_major" != "$host_major" ]; then
  OSCAP_DS_PATCHED="$OUT/ssg-debian${ds_major}-ds-any-debian.xml"
  sed -E '/<xccdf-1\.2:platform idref="cpe:\/o:debian:debian_linux:[0-9]+"\/>/d' "$OSCAP_DS" >"$OSCAP_DS_PATCHED"
  cmp -s "$OSCAP_DS" "$OSCAP_DS_PATCHED" && OSCAP_DS_PATCHED=""
fi

# --- measuring -------------------------------------------------------------------------------
now_ns() { date +%s%N; }

# run_peer NAME RUNS OKCODES CMD...: RUNS timed runs under /usr/bin/time -v, each writing
# $OUT/NAME.<i>.{out,err,time}; prints nothing, records "wall_s rss_kb user_s sys_s" lines in
# $OUT/NAME.samples.
run_peer() {
  local name=$1 runs=$2 okcodes=$3
  shift 3
  : >"$OUT/$name.samples"
  local i
  for ((i = 1; i <= PEER_WARMUP; i++)); do
    log "$name: warm-up $i/$PEER_WARMUP"
    "$@" >"$OUT/$name.warmup$i.out" 2>"$OUT/$name.warmup$i.err" </dev/null || true
  done
  for ((i = 1; i <= runs; i++)); do
    log "$name: run $i/$runs"
    local t0 t1 rc=0
    t0=$(now_ns)
    /usr/bin/time -v -o "$OUT/$name.$i.time" "$@" >"$OUT/$name.$i.out" 2>"$OUT/$name.$i.err" </dev/null || rc=$?
    t1=$(now_ns)
    # GNU time exits with the command's status.
    if ! grep -qw -- "$rc" <<<"$okcodes"; then
      die "$name exited $rc (see $OUT/$name.$i.err)"
    fi
    local rss user sys
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$OUT/$name.$i.time")
    user=$(awk -F': ' '/User time/{print $2}' "$OUT/$name.$i.time")
    sys=$(awk -F': ' '/System time/{print $2}' "$OUT/$name.$i.time")
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", (b-a)/1e9}') $rss $user $sys" >>"$OUT/$name.samples"
  done
}

# stats FILE COL: "median min max" of a numeric column.
stats() {
  awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END{
    m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
    printf "%.6f %.6f %.6f\n", m, v[1], v[NR]}'
}
cpu_median() { awk '{print $3+$4}' "$1" | sort -g | awk '{v[NR]=$1} END{
    printf "%.6f", (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
max_rss_kb() { awk '{print $2}' "$1" | sort -g | tail -1; }

# 1. hardenctl: wall time with hyperfine (no shell), RSS with /usr/bin/time -v.
HCMD=("$HARDENCTL" audit --level standard)
log "hardenctl: hyperfine, $HARDENCTL_WARMUP warm-up + $HARDENCTL_RUNS runs"
hyperfine -N -i --style basic --warmup "$HARDENCTL_WARMUP" --runs "$HARDENCTL_RUNS" \
  --export-json "$OUT/hardenctl.hyperfine.json" --output "$OUT/hardenctl.hyperfine.out" \
  "${HCMD[*]}" >&2
PEER_WARMUP_SAVED=$PEER_WARMUP
PEER_WARMUP=0 run_peer hardenctl "$RSS_RUNS" "0 1" "${HCMD[@]}"
PEER_WARMUP=$PEER_WARMUP_SAVED
"${HCMD[@]}" --format json >"$OUT/hardenctl.report.json" 2>/dev/null || true
h_checks=$("$HARDENCTL" checks list --level standard --format json | jq length)
h_summary=$(jq -r '[.findings // .checks // .results // [] | .[] | (.status // .outcome // .result) | ascii_downcase]
  | group_by(.) | map("\(length) \(.[0])") | join(", ")' "$OUT/hardenctl.report.json" 2>/dev/null || echo "?")
read -r h_med h_min h_max < <(jq -r '.results[0] | "\(.median) \(.min) \(.max)"' "$OUT/hardenctl.hyperfine.json")
h_cpu=$(jq -r '.results[0] | (.user + .system)' "$OUT/hardenctl.hyperfine.json")
h_rss=$(max_rss_kb "$OUT/hardenctl.samples")

# 2. Lynis.
run_peer lynis "$LYNIS_RUNS" "0" lynis audit system --quick
cp /var/log/lynis-report.dat "$OUT/lynis-report.dat" 2>/dev/null || true
l_tests=$(awk -F= '/^lynis_tests_done=/{print $2}' "$OUT/lynis-report.dat" 2>/dev/null || echo "?")

# 3. OpenSCAP (exit 2 = some rule failed).
oscap_counts() {
  grep -E '^Result' "$1" | awk '{print $2}' | sort | uniq -c | awk '{printf "%s%s %s", (NR>1?", ":""), $1, $2}'
}
run_peer oscap "$OSCAP_RUNS" "0 2" oscap xccdf eval --profile "$OSCAP_PROFILE" \
  --results "$OUT/oscap-results.xml" "$OSCAP_DS"
o_counts=$(oscap_counts "$OUT/oscap.1.out")
if [ -n "$OSCAP_DS_PATCHED" ]; then
  run_peer oscap-anyos "$OSCAP_RUNS" "0 2" oscap xccdf eval --profile "$OSCAP_PROFILE" \
    --results "$OUT/oscap-anyos-results.xml" "$OSCAP_DS_PATCHED"
  p_counts=$(oscap_counts "$OUT/oscap-anyos.1.out")
fi

# --- report ----------------------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.0f", a/b; else print "?" }'; }
ratio1() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f", a/b; else print "?" }'; }
fmt_t() { awk -v s="$1" 'BEGIN{ if (s < 1) printf "%.1f ms", s*1000; else printf "%.2f s", s }'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN{ print (v >= t) ? "met" : "NOT met" }'; }

row() { # name command runs work med min max cpu rss
  local speed rssr
  speed=$(ratio "$5" "$h_med")
  rssr=$(ratio1 "$9" "$h_rss")
  [ "$1" = hardenctl ] && speed="1" && rssr="1"
  printf '| %s | `%s` | %s | %s | %s | %s – %s | %s | %s | %s× | %s× |\n' \
    "$1" "$2" "$3" "$4" "$(fmt_t "$5")" "$(fmt_t "$6")" "$(fmt_t "$7")" "$(fmt_t "$8")" "$(mib "$9")" "$speed" "$rssr"
}

{
  echo "## hardenctl benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- host: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r), PID 1 = $(ps -p 1 -o comm=)"
  echo "- hardenctl $("$HARDENCTL" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ', dirty')), release build; lynis $(dpkg-query -W -f='${Version}' lynis 2>/dev/null); $(oscap --version | head -1 | sed 's/OpenSCAP command line tool (oscap)/oscap/'); ssg-debian $(dpkg-query -W -f='${Version}' ssg-debian 2>/dev/null); hyperfine $(hyperfine --version | awk '{print $2}')"
  echo "- OpenSCAP content: \`$OSCAP_DS\`, profile \`$OSCAP_PROFILE\`"
  echo "- time: median wall clock; CPU = user + system (median for peers, mean from hyperfine for hardenctl); RSS = max over the runs of GNU time's peak RSS"
  echo
  echo "| tool | command | runs | work done | wall (median) | wall min – max | CPU | peak RSS (MiB) | hardenctl faster by | RSS vs hardenctl |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  row hardenctl "hardenctl audit --level standard" "$HARDENCTL_RUNS (+$HARDENCTL_WARMUP warm-up)" \
    "$h_checks checks ($h_summary)" "$h_med" "$h_min" "$h_max" "$h_cpu" "$h_rss"
  read -r med min max < <(stats "$OUT/lynis.samples" 1)
  l_med=$med l_rss=$(max_rss_kb "$OUT/lynis.samples")
  row lynis "lynis audit system --quick" "$LYNIS_RUNS (+$PEER_WARMUP warm-up)" "$l_tests tests performed" \
    "$med" "$min" "$max" "$(cpu_median "$OUT/lynis.samples")" "$l_rss"
  read -r med min max < <(stats "$OUT/oscap.samples" 1)
  o_med=$med o_rss=$(max_rss_kb "$OUT/oscap.samples")
  row "oscap (as shipped)" "oscap xccdf eval --profile ${OSCAP_PROFILE##*_profile_} $(basename "$OSCAP_DS")" \
    "$OSCAP_RUNS (+$PEER_WARMUP warm-up)" "$(grep -c '^Result' "$OUT/oscap.1.out") rules: $o_counts" \
    "$med" "$min" "$max" "$(cpu_median "$OUT/oscap.samples")" "$o_rss"
  if [ -n "$OSCAP_DS_PATCHED" ]; then
    read -r med min max < <(stats "$OUT/oscap-anyos.samples" 1)
    p_med=$med p_rss=$(max_rss_kb "$OUT/oscap-anyos.samples")
    row "oscap (OS CPE removed)" "oscap xccdf eval --profile ${OSCAP_PROFILE##*_profile_} $(basename "$OSCAP_DS_PATCHED")" \
      "$OSCAP_RUNS (+$PEER_WARMUP warm-up)" "$(grep -c '^Result' "$OUT/oscap-anyos.1.out") rules: $p_counts" \
      "$med" "$min" "$max" "$(cpu_median "$OUT/oscap-anyos.samples")" "$p_rss"
    cmp_med=$p_med cmp_name="oscap (OS CPE removed)"
  else
    cmp_med=$o_med cmp_name="oscap"
  fi
  echo
  echo "Targets:"
  echo "- >= 1000x faster than Lynis: $(ratio "$l_med" "$h_med")x, $(verdict "$(ratio1 "$l_med" "$h_med")" 1000)"
  echo "- >= 20x faster than OpenSCAP ($cmp_name): $(ratio "$cmp_med" "$h_med")x, $(verdict "$(ratio1 "$cmp_med" "$h_med")" 20)"
  echo "- < 20 MiB peak RSS: $(mib "$h_rss") MiB, $(awk -v k="$h_rss" 'BEGIN{print (k < 20*1024) ? "met" : "NOT met"}')"
  echo
  echo "Raw outputs: $OUT"
} | tee "$OUT/results.md"

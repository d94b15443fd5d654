#!/usr/bin/env bash
# Runs every fuzz target that builds on this branch for SECONDS each (default 60), on stable Rust.
#
# cargo-fuzz passes nightly-only `-Z` flags (sanitizer); RUSTC_BOOTSTRAP=1 lets stable rustc accept
# them. AddressSanitizer works here; set FUZZ_SANITIZER=none to build without it (faster, catches
# panics only). Targets run FUZZ_PARALLEL at a time (default: number of cores). Corpora grow in
# fuzz/corpus/<target> (seeded from fuzz/seeds/<target>), crashes land in fuzz/artifacts/<target>,
# logs in fuzz/logs/<target>.log. Exits non-zero if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
parallel="${FUZZ_PARALLEL:-$(nproc)}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi


targets=(policy sysctl_d cmdline audit_rule sshd_config nft_ruleset auth_log)

# One build for all targets, before any run starts.
cargo fuzz build -s "$sanitizer"

mkdir -p fuzz/logs
run_one() {
  local t="$1"
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  cargo fuzz run -s "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"fuzz/logs/$t.log" 2>&1
}

status=0
pids=()
names=()
for t in "${targets[@]}"; do
  echo "fuzzing $t for ${seconds}s"
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ "${#pids[@]}" -ge "$parallel" ]; then
    if ! wait "${pids[0]}"; then echo "CRASH or failure in ${names[0]}: see fuzz/logs/${names[0]}.log"; status=1; fi
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then echo "CRASH or failure in ${names[$i]}: see fuzz/logs/${names[$i]}.log"; status=1; fi
done

for t in "${targets[@]}"; do
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$t.log" | grep -o '[0-9]*$' || echo '?')
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  echo "$t: executions=$runs corpus=$corpus artifacts=$crashes"
done
exit "$status"

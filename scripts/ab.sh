#!/usr/bin/env bash
# In-process A/B of a fast-path idea: builds handoff with the `ab` feature
# (into target/ab), runs it on bench.sh's net_null set-up, and prints how
# variant A (the code as it is) and variant B (the code under `ab::b()`)
# did. The run switches between them every --ms milliseconds; each B window
# is compared with the A windows on either side, so the VM's slow spells
# (seconds long) hit both alike. With no `ab::b()` in the code the B/A
# median is the noise floor (about 1.00, quartiles +-3% here).
#
# Usage: scripts/ab.sh [--no-build] [--seconds N] [--ms N] [--scenario drop|fwd]
#                      [--memory nohuge|huge] [--runs N] [-- EXTRA_HANDOFF_ARGS]
#   --memory huge reserves 2 MB hugepages if too few are free and gives
#   them back at exit, as bench.sh does.
#   HANDOFF_AB_SAVE=FILE also writes every window (variant, Mpps, clocks per node).
set -euo pipefail

usage() {
  echo "usage: $0 [--no-build] [--seconds N] [--ms N] [--scenario drop|fwd] [--memory nohuge|huge] [--runs N] [-- ARGS]" >&2
  exit 2
}
build=1 seconds=10 ms=10 scenario=drop memory=nohuge runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --seconds) [ $# -ge 2 ] || usage; seconds="$2"; shift ;;
    --ms) [ $# -ge 2 ] || usage; ms="$2"; shift ;;
    --scenario) [ $# -ge 2 ] || usage; scenario="$2"; shift ;;
    --memory) [ $# -ge 2 ] || usage; memory="$2"; shift ;;
    --runs) [ $# -ge 2 ] || usage; runs="$2"; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) usage ;;
  esac
  shift
done
extra=("$@")
[[ "$seconds$ms$runs" =~ ^[0-9]+$ && $seconds -gt 0 && $ms -gt 0 && $runs -gt 0 ]] ||
  { echo "ab: --seconds, --ms and --runs take whole numbers > 0" >&2; exit 2; }
cd "$(dirname "$0")/.."
bin=target/ab/release/handoff
[ "$build" = 1 ] && timeout -k 10 900 cargo build --release --quiet --features ab --target-dir target/ab
[ -x "$bin" ] || { echo "ab: no $bin (run without --no-build)" >&2; exit 1; }

case "$scenario" in
  drop) args=(--vdev net_null0 --output drop) ;;
  fwd) args=(--vdev net_null0 --vdev "net_null1,no-rx=1" --output net_null1) ;;
  *) usage ;;
esac
hp_sys=/sys/kernel/mm/hugepages/hugepages-2048kB hp_restore=""
restore() { [ -z "$hp_restore" ] || echo "$hp_restore" > "$hp_sys/nr_hugepages" || true; }
trap restore EXIT
case "$memory" in
  nohuge) eal=(--no-huge -m 256) ;;
  huge)
    eal=(-m 256)
    need=144 free=$(cat "$hp_sys/free_hugepages" 2> /dev/null || echo 0)
    if [ "$free" -lt "$need" ]; then
      hp_restore=$(cat "$hp_sys/nr_hugepages")
      echo $((hp_restore + need - free)) > "$hp_sys/nr_hugepages" ||
        { echo "ab: cannot reserve hugepages (not root?)" >&2; exit 1; }
    fi
    ;;
  *) usage ;;
esac

for ((r = 1; r <= runs; r++)); do
  prefix="ab-$$-$r"
  echo "ab: run $r: $memory $scenario, $seconds s, ${ms} ms windows" >&2
  HANDOFF_AB_MS="$ms" timeout -k 5 $((seconds + 60)) "$bin" "${eal[@]}" --file-prefix "$prefix" "${args[@]}" \
    --burst 32 --duration "$seconds" --json "${extra[@]}" 2>&1 > /dev/null | grep '^ab:' || true
  rm -rf "/var/run/dpdk/$prefix"
  rm -f /dev/hugepages/"$prefix"map_* 2> /dev/null || true
done

#!/usr/bin/env bash
# Benchmarks handoff against dpdk-testpmd on the same net_null vdevs, in one
# run, and prints the rate of each and the ratio handoff/testpmd.
#
# Usage: scripts/bench.sh [--no-build] [--bin PATH] [--seconds N] [--runs N]
#                         [--scenario drop|fwd|both] [-- EXTRA_HANDOFF_ARGS]
#   drop: handoff --output drop          vs testpmd --forward-mode=rxonly
#   fwd:  handoff --output net_null1     vs testpmd --forward-mode=io (null0 -> null1)
# Each scenario runs the two tools alternately --runs times (default 3) and
# reports the best run of each (and the medians): the 2 CPUs are shared, so
# one run alone is noise. Per-run details, with handoff's clocks per packet
# per node (`show runtime`), go to stderr.
set -euo pipefail

build=1 bin="$(dirname "$0")/../target/release/handoff" seconds=5 runs=3 scenario=both
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --bin) bin=$(realpath -m "$2"); build=0; shift ;;
    --seconds) seconds="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --scenario) scenario="$2"; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--no-build] [--bin PATH] [--seconds N] [--runs N] [--scenario drop|fwd|both] [-- HANDOFF_ARGS]" >&2; exit 2 ;;
  esac
  shift
done
extra=("$@")
bin=$(realpath -m "$bin")
cd "$(dirname "$0")/.."
[[ "$seconds$runs" =~ ^[0-9]+$ && $seconds -gt 0 && $runs -gt 0 ]] || { echo "bench: --seconds and --runs take whole numbers > 0" >&2; exit 2; }
case "$scenario" in drop | fwd) scenarios=("$scenario") ;; both) scenarios=(drop fwd) ;; *) echo "bench: bad --scenario" >&2; exit 2 ;; esac

[ "$build" = 1 ] && cargo build --release --quiet
command -v dpdk-testpmd > /dev/null || { echo "bench: dpdk-testpmd not found (scripts/install-deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
# testpmd leaves /var/run/dpdk/<prefix> behind (handoff removes its own; a
# killed handoff would not), so every prefix of ours (bench-*-PID-*) goes.
cleanup() { rm -rf "$tmp" /var/run/dpdk/bench-*-$$-*; }
trap cleanup EXIT

# Other busy processes on these 2 CPUs (tests, builds) slow handoff, which
# keeps both CPUs busy, far more than testpmd, which keeps one: runs that saw
# one before or after are marked "contended".
busy() {
  local n
  for n in handoff dpdk-testpmd rustc cargo cc1; do
    if pgrep -x "$n" > /dev/null; then echo " (contended: $n)"; return; fi
  done
}

# handoff moves every packet (index, mbuf header, mempool) between CPU 0 and
# CPU 1; testpmd stays on one CPU. On a VM the host may place the two vCPUs
# close (~60 ns cache-line round trip) or far (200-1000+ ns), and handoff's
# rate follows that. This probe measures it before each run, if cc exists.
cat > "$tmp/rtt.c" << 'EOF_C'
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
static volatile long f __attribute__((aligned(64)));
enum { N = 200000 };
static void pin(int c) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(c, &s); pthread_setaffinity_np(pthread_self(), sizeof s, &s); }
static void *pong(void *a) { pin(1); for (long i = 0; i < N; i++) { while (f != 2 * i + 1); f = 2 * i + 2; } return a; }
int main(void) {
  pthread_t t; struct timespec a, b; pin(0); pthread_create(&t, 0, pong, 0); clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < N; i++) { f = 2 * i + 1; while (f != 2 * i + 2); }
  clock_gettime(CLOCK_MONOTONIC, &b); pthread_join(t, 0);
  printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / N);
}
EOF_C
rtt() { if [ -x "$tmp/rtt" ]; then echo ", CPU0<->1 round trip $(timeout 20 "$tmp/rtt") ns"; fi; }
cc -O2 -pthread "$tmp/rtt.c" -o "$tmp/rtt" 2> /dev/null || true

# Same for both tools: no hugepages, no PCI, 256 MB, burst 32, 64-byte
# packets (net_null's default). net_null1 has no-rx=1 because handoff polls
# every port: a normal net_null1 would double its input; testpmd polls it too
# (its io stream 1 -> 0), so both pay the same empty poll.
# (handoff adds --no-pci itself and refuses the flag.)
eal=(--no-huge -m 256)
vdevs_drop=(--vdev net_null0)
vdevs_fwd=(--vdev net_null0 --vdev "net_null1,no-rx=1")

# handoff: default placement (rx lcore on CPU 0, worker on CPU 1). Counts
# packets that left the worker (transmitted, or dropped as `completed
# packets`): ring congestion drops were received but not forwarded.
# Prints "Mpps rx_Mpps ring_drop_Mpps node=clocks/pkt ...".
run_handoff() { # scenario run
  local p="bench-h-$$-$1-$2" out=(--output drop) vd=("${vdevs_drop[@]}")
  [ "$1" = fwd ] && out=(--output net_null1) vd=("${vdevs_fwd[@]}")
  timeout -k 5 $((seconds + 60)) "$bin" "${eal[@]}" --file-prefix "$p" "${vd[@]}" "${out[@]}" \
    --burst 32 --duration "$seconds" --json "${extra[@]}" > "$tmp/h.json" 2> "$tmp/h.err" ||
    { echo "bench: handoff failed ($?):" >&2; tail -5 "$tmp/h.err" >&2; return 1; }
  python3 - "$tmp/h.json" << 'EOF'
import json, sys
d = json.load(open(sys.argv[1])); c = d["conservation"]; s = d["seconds"]
e = {}
for r in d["errors"]: e[r["reason"]] = e.get(r["reason"], 0) + r["count"]
out = c["transmitted"] + e.get("completed packets", 0)
nodes = " ".join(f'{n["name"]}={n["clocks_per_vector"]:.0f}' for t in d["runtime"] for n in t["nodes"])
print(f'{out/s/1e6:.2f} {c["received"]/s/1e6:.2f} {e.get("handoff queue congestion drops", 0)/s/1e6:.2f} {nodes}')
EOF
}

# testpmd: -l 0,1 = main lcore on CPU 0 (blocked reading stdin) and one
# forwarding lcore on CPU 1; mbuf pool near handoff's (16k vs its ~11k
# mbufs), same per-lcore cache (256) and descriptors (1024). Non-interactive testpmd forwards until it reads a
# line on stdin (EOF from /dev/null stops it at once), so stdin is a fifo we
# write to $seconds after its "Press enter to exit"; that window is the time
# base. Counts TX-packets for io (forwarded), RX-packets for rxonly.
run_testpmd() { # scenario run
  local p="bench-tp-$$-$1-$2" mode=rxonly vd=("${vdevs_drop[@]}") field=RX-packets tp t0 t1 n
  [ "$1" = fwd ] && mode=io vd=("${vdevs_fwd[@]}") field=TX-packets
  rm -f "$tmp/fifo" && mkfifo "$tmp/fifo" && : > "$tmp/tp.out"
  # stdbuf: the banner must reach the file while testpmd waits.
  timeout -s INT -k 5 $((seconds + 60)) stdbuf -oL dpdk-testpmd -l 0,1 "${eal[@]}" --no-pci --file-prefix "$p" "${vd[@]}" -- \
    --forward-mode="$mode" --nb-cores=1 --burst=32 --total-num-mbufs=16384 --mbcache=256 --rxd=1024 --txd=1024 \
    < "$tmp/fifo" > "$tmp/tp.out" 2>&1 &
  tp=$!
  exec 3> "$tmp/fifo"
  until grep -q 'Press enter to exit' "$tmp/tp.out"; do
    kill -0 "$tp" 2> /dev/null || break
    sleep 0.01
  done
  if grep -q 'Press enter to exit' "$tmp/tp.out"; then
    t0=$(date +%s.%N); sleep "$seconds"; t1=$(date +%s.%N)
    echo >&3
  fi
  exec 3>&-
  wait "$tp" || { echo "bench: testpmd failed ($?):" >&2; tail -5 "$tmp/tp.out" >&2; return 1; }
  n=$(grep -A2 'Accumulated forward statistics' "$tmp/tp.out" | awk -v f="$field:" '$1 == f {print $2}')
  [ -n "$n" ] || { echo "bench: no statistics from testpmd:" >&2; tail -5 "$tmp/tp.out" >&2; return 1; }
  awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", n / (b - a) / 1e6}'
}

# Best of N is the headline (interference only ever slows a run down); the
# median is printed too, so a noisy set of runs shows.
summary() { sort -g | awk '{v[NR] = $1} END {printf "%s %s\n", v[NR], (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for sc in "${scenarios[@]}"; do
  : > "$tmp/h" && : > "$tmp/t"
  for r in $(seq "$runs"); do
    # Alternate the tools so a slow spell of the VM hits both alike.
    c=$(busy) rt=$(rtt)
    hres=$(run_handoff "$sc" "$r")
    read -r hm hrx hdrop nodes <<< "$hres"
    tm=$(run_testpmd "$sc" "$r")
    echo "$hm" >> "$tmp/h" && echo "$tm" >> "$tmp/t"
    c=${c:-$(busy)}
    echo "$sc run $r$c$rt: handoff $hm Mpps (rx $hrx, ring drops $hdrop; clocks/pkt $nodes), testpmd $tm Mpps" >&2
  done
  read -r h hmed <<< "$(summary < "$tmp/h")"
  read -r t tmed <<< "$(summary < "$tmp/t")"
  awk -v s="$sc" -v h="$h" -v t="$t" -v hm="$hmed" -v tm="$tmed" -v n="$runs" 'BEGIN {
    printf "%s: handoff %.1f Mpps, testpmd %.1f Mpps, ratio %.2f (best of %d; medians %.1f, %.1f)\n", s, h, t, h / t, n, hm, tm }'
done

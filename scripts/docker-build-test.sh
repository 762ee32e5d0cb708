#!/usr/bin/env bash
# Builds the Dockerfile with buildah and runs handoff in the image: no Docker
# daemon and no image registry needed, only Debian's apt mirror.
#
# Usage: sudo scripts/docker-build-test.sh [--suite bookworm|trixie|all]
#                                           [--unit-tests] [--keep]
#   --suite       which image: bookworm (DPDK 22.11, default), trixie
#                 (DPDK 24.11) or all (both, one after the other)
#   --unit-tests  also run `cargo test --lib` in the builder stage
#   --keep        keep the test containers (they are removed by default)
#
# For each suite it
#   1. makes stand-ins for debian:SUITE-slim and rust:1-SUITE with
#      scripts/docker-standin.sh (debootstrap from this machine's apt mirror)
#   2. vendors the crates (`cargo vendor` into vendor/, removed at exit), so
#      the image builds offline
#   3. builds the image localhost/handoff:SUITE:
#        buildah --storage-driver vfs bud --layers --pull-never --isolation chroot \
#                --build-arg SUITE=SUITE -t localhost/handoff:SUITE .
#      (--layers keeps the dependency-cache layer for the next run)
#   4. runs in it: `handoff --version`, the seed demo (`handoff`, no
#      hugepages), and a pcap forward (a pcap made here, mounted at /data,
#      net_pcap0 -> net_pcap1) whose output must equal its input
# It prints each step's result and the image size; logs are in
# ${TMPDIR:-/tmp}/handoff-docker-test.*/ (printed at the end). Needs root
# (buildah's vfs storage), cargo, python3, about 15 GB of disk per suite,
# and several minutes per suite on 2 CPUs (dependency layer cached: less).
set -euo pipefail

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
suites=(bookworm) unit_tests=0 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --suite)
      case "${2:-}" in
        bookworm | trixie) suites=("$2") ;;
        all) suites=(bookworm trixie) ;;
        *) echo "docker-build-test: --suite takes bookworm, trixie or all" >&2; exit 2 ;;
      esac
      shift ;;
    --unit-tests) unit_tests=1 ;;
    --keep) keep=1 ;;
    *) echo "docker-build-test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "docker-build-test: run as root (buildah vfs storage)" >&2; exit 1; }
for t in cargo python3; do
  command -v "$t" > /dev/null || { echo "docker-build-test: $t is needed" >&2; exit 1; }
done
cd "$(dirname "$0")/.."
repo=$(pwd)

B=(buildah --storage-driver vfs)
logs=$(mktemp -d "${TMPDIR:-/tmp}/handoff-docker-test.XXXXXX")
data="$logs/data"
mkdir -p "$data"
containers=()
vendored=0
cleanup() {
  local c
  if [ "$keep" = 0 ]; then
    for c in "${containers[@]}"; do "${B[@]}" rm "$c" > /dev/null 2>&1 || true; done
  fi
  [ "$vendored" = 1 ] && rm -rf "$repo/vendor"
  rm -rf "$data"
}
trap cleanup EXIT
say() { printf '%s\n' "docker-build-test: $*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

start=$SECONDS
bash scripts/docker-standin.sh "${suites[@]}" > "$logs/standin.log" 2>&1 ||
  { tail -20 "$logs/standin.log" >&2; fail "stand-in base images (log: $logs/standin.log)"; }
say "base images ready ($((SECONDS - start)) s)"

# Vendored crates: an offline build in the image. vendor/ is in .gitignore.
if [ -e vendor ]; then
  fail "vendor/ exists already; remove it (this script makes and removes its own)"
fi
vendored=1
cargo vendor --locked --versioned-dirs vendor > /dev/null 2> "$logs/vendor.log" ||
  { tail -20 "$logs/vendor.log" >&2; fail "cargo vendor (log: $logs/vendor.log)"; }
say "crates vendored ($(find vendor -mindepth 1 -maxdepth 1 -type d | wc -l) crates)"

# A pcap of 1000 UDP packets, 64 to 1000+ bytes, to forward.
python3 - "$data/in.pcap" << 'EOF'
import struct, sys
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
for i in range(1000):
    payload = bytes((i + j) & 0xFF for j in range(18 + i % 1000))
    udp = struct.pack("!HHHH", 1024 + i % 7, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 1, i % 250 + 1])) + udp
    frame = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]) + ip
    out.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
EOF

# Packet records (without timestamps) of a pcap file, to compare two files.
records() {
  python3 - "$1" << 'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", d[:4])[0]
e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
off, n, h = 24, 0, __import__("hashlib").sha256()
while off + 16 <= len(d):
    _, _, incl, orig = struct.unpack(e + "IIII", d[off:off + 16])
    h.update(d[off + 16:off + 16 + incl]); off += 16 + incl; n += 1
print(n, h.hexdigest()[:16])
EOF
}

for suite in "${suites[@]}"; do
  t0=$SECONDS
  image="localhost/handoff:$suite"
  old=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$image" 2> /dev/null || true)
  say "[$suite] building $image (log: $logs/build-$suite.log) ..."
  "${B[@]}" bud --layers --force-rm --pull-never --isolation chroot --build-arg "SUITE=$suite" \
    --build-arg "UNIT_TESTS=$unit_tests" -t "$image" -f Dockerfile . > "$logs/build-$suite.log" 2>&1 ||
    { tail -30 "$logs/build-$suite.log" >&2; fail "[$suite] image build (log: $logs/build-$suite.log)"; }
  new=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$image")
  # The image this one replaced (vfs keeps full copies: give the space back).
  if [ -n "$old" ] && [ "$old" != "$new" ]; then "${B[@]}" rmi "$old" > /dev/null 2>&1 || true; fi
  size=$("${B[@]}" images --format '{{.Size}}' "$image" | head -n 1)
  say "[$suite] built in $((SECONDS - t0)) s, image size $size"
  grep -E '^runtime: DPDK ABI' "$logs/build-$suite.log" | sed "s/^/docker-build-test: [$suite] /" || true
  if [ "$unit_tests" = 1 ]; then
    grep -E '^test result:' "$logs/build-$suite.log" | sed "s/^/docker-build-test: [$suite] unit tests: /" ||
      fail "[$suite] no unit test result in the build log"
  fi

  c=$("${B[@]}" from --pull-never --name "handoff-test-$suite-$$" "$image")
  containers+=("$c")
  run() { "${B[@]}" run --isolation chroot -v "$data:/data" "$c" -- "$@"; }

  version=$(run handoff --version) || fail "[$suite] handoff --version"
  say "[$suite] $version"

  # The seed demo: no input named, no hugepages (ENTRYPOINT is handoff; buildah run does not apply it).
  rc=0
  run handoff > "$logs/seed-$suite.txt" 2> "$logs/seed-$suite.err" || rc=$?
  [ "$rc" = 0 ] || { cat "$logs/seed-$suite.err" >&2; fail "[$suite] seed demo exited $rc"; }
  grep -q 'handoffdemo-2 .*completed packets' "$logs/seed-$suite.txt" ||
    { head -20 "$logs/seed-$suite.txt" >&2; fail "[$suite] seed demo output has no handoffdemo-2 counters"; }
  say "[$suite] seed demo ok:"
  head -n 3 "$logs/seed-$suite.txt" | sed 's/^/    /'

  # A pcap file mounted in, forwarded net_pcap0 -> net_pcap1.
  rm -f "$data/out.pcap"
  run handoff --no-huge --vdev net_pcap0,rx_pcap=/data/in.pcap --vdev net_pcap1,tx_pcap=/data/out.pcap \
    --output net_pcap1 --json > "$logs/fwd-$suite.json" 2> "$logs/fwd-$suite.err" ||
    { cat "$logs/fwd-$suite.err" >&2; fail "[$suite] pcap forward"; }
  want=$(records "$data/in.pcap")
  got=$(records "$data/out.pcap")
  [ "$want" = "$got" ] || fail "[$suite] out.pcap ($got) differs from in.pcap ($want)"
  conservation=$(python3 -c 'import json,sys; c = json.load(open(sys.argv[1]))["conservation"]; print(", ".join(f"{k} {v}" for k, v in c.items() if not isinstance(v, (dict, list))))' "$logs/fwd-$suite.json")
  say "[$suite] pcap forward ok: out.pcap = in.pcap (${want% *} packets, sha256 ${want#* }); $conservation"
  say "[$suite] done in $((SECONDS - t0)) s"
done
say "all done in $((SECONDS - start)) s; logs in $logs"

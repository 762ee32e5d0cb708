#!/usr/bin/env bash
# Installs everything needed to build, run and test handoff on Debian bookworm.
# Idempotent: re-running it only checks that the packages are there.
set -euo pipefail

packages=(
  libdpdk-dev dpdk dpdk-dev   # headers, PMDs (net_pcap, net_null), testpmd, dumpcap, telemetry
  pkg-config libclang-dev clang  # build.rs: pkg-config and bindgen
  libpcap-dev                # net_pcap PMD and --trace-filter (BPF compile)
  iproute2                   # veth pairs in network namespaces for tests
  python3                    # dpdk-telemetry.py
  python3-prometheus-client  # tests/metrics.rs: the reference OpenMetrics parser
  tshark                     # tests read --trace-pcapng files as Wireshark would
  shellcheck                 # tests lint every scripts/*.sh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # tshark asks whether non-root users may capture; preseed "no".
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found; install a Rust toolchain (rustup) first" >&2
  exit 1
fi

pkg-config --atleast-version=22.11 libdpdk || {
  echo "install-deps: libdpdk >= 22.11 is required (found $(pkg-config --modversion libdpdk 2>/dev/null || echo none))" >&2
  exit 1
}
echo "install-deps: ok (DPDK $(pkg-config --modversion libdpdk))"

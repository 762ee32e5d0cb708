# handoff in a container: a builder stage (Rust + DPDK headers) and a slim
# runtime stage with only the DPDK libraries and drivers handoff loads.
#
#   docker build -t handoff .                                   # Debian bookworm, DPDK 22.11
#   docker build -t handoff:trixie --build-arg SUITE=trixie .   # Debian trixie, DPDK 24.11
#   docker run --rm handoff                                     # the seed demo, no hugepages
#
# More `docker run` lines (a pcap file, bare metal with hugepages and vfio-pci,
# af_packet) are in docs/docker.md; scripts/docker-build-test.sh builds and
# runs this file with buildah where there is no Docker daemon.
#
# Build arguments:
#   SUITE       bookworm (default, DPDK 22.11) or trixie (DPDK 24.11)
#   NIC_PMDS    extra DPDK drivers for real NICs, by Debian package stem
#               without the ABI number: "net-ixgbe net-i40e net-ice net-virtio"
#   UNIT_TESTS  1: run `cargo test --lib` in the builder stage
ARG SUITE=bookworm

FROM rust:1-${SUITE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends libdpdk-dev libpcap-dev libclang-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The dependency cache. The manifests, and vendor/ if it is in the build
# context (`cargo vendor`, for an offline build: scripts/docker-build-test.sh
# makes it), land in .deps/: COPY puts the *contents* of a directory there,
# and `vendo[r]` matches nothing when there is no vendor/. With vendored
# crates a .cargo/config.toml made here points cargo at them, offline.
# Then every dependency is built against stub sources; this layer is reused
# until Cargo.toml, Cargo.lock or the vendored crates change.
COPY Cargo.toml Cargo.lock vendo[r] /src/.deps/
RUN set -eu; mv .deps/Cargo.toml .deps/Cargo.lock .; \
    if [ -n "$(ls -A .deps)" ]; then \
      mv .deps vendor; mkdir -p .cargo; \
      printf '[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "/src/vendor"\n\n[net]\noffline = true\n' > .cargo/config.toml; \
    else rmdir .deps; fi; \
    mkdir -p src; echo 'fn main() {}' > src/main.rs; : > src/lib.rs; echo 'fn main() {}' > build.rs; \
    cargo build --release --locked; \
    cargo clean --release -p handoff; rm -rf src build.rs
COPY . .
ARG UNIT_TESTS=0
RUN set -eu; cargo build --release --locked; \
    if [ "$UNIT_TESTS" = 1 ]; then cargo test --release --locked --lib; fi; \
    target/release/handoff --version; \
    readelf -d target/release/handoff | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' > target/release/handoff.needed

FROM debian:${SUITE}-slim
ARG DEBIAN_FRONTEND=noninteractive
ARG NIC_PMDS=""
COPY --from=build /src/target/release/handoff /usr/local/bin/handoff
COPY --from=build /src/target/release/handoff.needed /tmp/handoff.needed
# Debian's `dpdk` package only *recommends* the librte-* libraries and
# drivers, so they are named here. The ABI number in the package names
# (23 for 22.11, 25 for 24.11) comes from the archive:
#   libraries handoff links (ldd): eal ethdev mbuf mempool ring telemetry pdump,
#   and log where the suite has it (24.11 moved rte_openlog_stream out of EAL)
#   drivers it loads: mempool-ring (every pktmbuf pool needs it), bus-vdev,
#   bus-pci (-a NICs), net-pcap, net-null, net-af-packet, net-ring, net-tap
# The build fails unless every library resolves (ldd), every library handoff
# links directly (readelf in the builder) comes from a package named here,
# and every driver above is in the PMD directory.
RUN set -eu; apt-get update -q; \
    abi=$(apt-cache pkgnames librte-eal | sed -n 's/^librte-eal\([0-9][0-9]*\)$/\1/p' | sort -n | tail -n 1); \
    [ -n "$abi" ] || { echo "no librte-ealNN package in this suite" >&2; exit 1; }; \
    pcap=libpcap0.8; if apt-cache show libpcap0.8t64 > /dev/null 2>&1; then pcap=libpcap0.8t64; fi; \
    pkgs="$pcap"; \
    for stem in eal ethdev mbuf mempool ring telemetry pdump \
                mempool-ring bus-vdev bus-pci net-pcap net-null net-af-packet net-ring net-tap $NIC_PMDS; do \
      case "$stem" in *[0-9]) pkgs="$pkgs librte-$stem-$abi" ;; *) pkgs="$pkgs librte-$stem$abi" ;; esac; \
    done; \
    if apt-cache show "librte-log$abi" > /dev/null 2>&1; then pkgs="$pkgs librte-log$abi"; fi; \
    apt-get install -y -q --no-install-recommends $pkgs; \
    rm -rf /var/lib/apt/lists/*; \
    if ldd /usr/local/bin/handoff | grep 'not found'; then echo "handoff: missing libraries" >&2; exit 1; fi; \
    for lib in $(grep -E '^(librte_|libpcap)' /tmp/handoff.needed); do \
      pkg=$(dpkg -S "$(readlink -f "$(ldd /usr/local/bin/handoff | awk -v l="$lib" '$1 == l {print $3}')")" | cut -d: -f1); \
      case " $pkgs " in *" $pkg "*) ;; *) echo "handoff links $lib from $pkg, which the Dockerfile does not name" >&2; exit 1 ;; esac; \
    done; rm /tmp/handoff.needed; \
    pmds=$(echo /usr/lib/*/dpdk/pmds-*); \
    for d in mempool_ring bus_vdev bus_pci net_pcap net_null net_af_packet net_ring net_tap; do \
      ls "$pmds/librte_$d.so".* > /dev/null 2>&1 || { echo "driver librte_$d missing from $pmds" >&2; exit 1; }; \
    done; \
    echo "runtime: DPDK ABI $abi, $(ls "$pmds" | grep -c '\.so\.[0-9]*\.[0-9]*$') drivers in $pmds"; \
    handoff --version
COPY dpdk-config /etc/handoff/dpdk-config
WORKDIR /data
ENTRYPOINT ["handoff"]

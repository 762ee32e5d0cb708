# Builds and runs handoff on Debian bookworm (DPDK 22.11 from Debian).
#   docker build -t handoff .
#   docker run --rm handoff                      # the seed demo, no hugepages
#   docker run --rm --privileged -v /dev/hugepages:/dev/hugepages handoff --eal-config ...
FROM rust:1-bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN bash scripts/install-deps.sh
COPY . .
RUN cargo build --release

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends dpdk libpcap0.8 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/handoff /usr/local/bin/handoff
COPY dpdk-config /etc/handoff/dpdk-config
ENTRYPOINT ["handoff"]

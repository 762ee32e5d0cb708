#!/usr/bin/env bash
# Reserves 2 MB hugepages (default 1024 = 2 GiB) and mounts hugetlbfs, so
# handoff can run without --no-huge. Usage: sudo scripts/setup-hugepages.sh [PAGES]
set -euo pipefail
pages="${1:-1024}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-hugepages: run as root (sudo $0 $pages)" >&2
  exit 1
fi
echo "$pages" > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
got=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
echo "setup-hugepages: $got of $pages 2 MB pages reserved, hugetlbfs on /dev/hugepages"
[ "$got" -ge "$pages" ] || { echo "setup-hugepages: fewer pages than asked (memory fragmented?)" >&2; exit 1; }

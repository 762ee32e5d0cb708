#!/usr/bin/env bash
# Reserves hugepages and mounts hugetlbfs, so handoff can run without
# --no-huge (bare metal, dpdk-dumpcap, telemetry on a hugepage-backed run).
#
# Usage: sudo scripts/setup-hugepages.sh [PAGES]
#        sudo scripts/setup-hugepages.sh [--size 2M|1G] [--pages N | --per-node N0,N1,...]
#                                        [--node N] [--persist | --unpersist]
#        scripts/setup-hugepages.sh --show
#
#   PAGES           2 MB pages in all (default 1024 = 2 GiB), spread over the
#                   NUMA nodes by the kernel (the old form; tests use it)
#   --size 2M|1G    page size (default 2M). 1G needs a CPU with pdpe1gb and
#                   enough unfragmented memory: reserve them early or at boot
#   --pages N       N pages on each NUMA node (default: 1024 of 2M, 2 of 1G)
#   --node N        only on NUMA node N (the NIC's: scripts/bind-nic.sh status)
#   --per-node LIST pages per node in node order, e.g. 4,0 (node 0: 4, node 1: 0)
#   --persist       also redo this reservation at every boot: installs the
#                   script as /usr/local/sbin/handoff-setup-hugepages and a
#                   systemd unit, handoff-hugepages.service, that runs it with
#                   the same arguments, and prints the kernel command line
#                   that reserves 1G pages before memory fragments
#   --unpersist     removes that unit and script (pages stay until reboot)
#   --show          pages per size and node, and the hugetlbfs mounts; read-only
#
# Mounts: 2M pages on /dev/hugepages (pagesize=2M), 1G pages on
# /dev/hugepages1G (pagesize=1G). EAL uses every hugetlbfs mount it finds.
# A per-node reservation that gets fewer pages than asked fails (exit 1).
set -euo pipefail

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "setup-hugepages: $*" >&2; exit 1; }

size=2M pages="" node="" per_node="" persist=0 unpersist=0 show=0 total="" args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --show) show=1 ;;
    --size) size=${2:-}; shift ;;
    --pages) pages=${2:-}; shift ;;
    --node) node=${2:-}; shift ;;
    --per-node) per_node=${2:-}; shift ;;
    --persist) persist=1 ;;
    --unpersist) unpersist=1 ;;
    [0-9]*) total=$1 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

case "$size" in
  2M | 2m | 2048kB) size=2M kb=2048 mount_dir=/dev/hugepages ;;
  1G | 1g | 1048576kB) size=1G kb=1048576 mount_dir=/dev/hugepages1G ;;
  *) die "--size takes 2M or 1G" ;;
esac
for v in "$pages" "$node" "$total"; do
  [ -z "$v" ] || [[ "$v" =~ ^[0-9]+$ ]] || die "page counts and node numbers are whole numbers ('$v')"
done
[ -z "$per_node" ] || [[ "$per_node" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--per-node takes counts like 4,0"

nodes() { # NUMA node numbers (0 on a machine without NUMA in sysfs)
  local n found=0
  for n in /sys/devices/system/node/node[0-9]*; do
    [ -d "$n" ] || continue
    echo "${n##*node}"
    found=1
  done
  [ "$found" = 1 ] || echo 0
}

node_file() { # node -> its nr_hugepages file for this size
  local f="/sys/devices/system/node/node$1/hugepages/hugepages-${kb}kB/nr_hugepages"
  [ -e "$f" ] || [ "$1" != 0 ] || f="/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages"
  echo "$f"
}

show() {
  if command -v dpdk-hugepages.py > /dev/null; then
    dpdk-hugepages.py --show
  fi
  local d n f
  echo "Pages per NUMA node (total/free):"
  for d in /sys/kernel/mm/hugepages/hugepages-*; do
    [ -d "$d" ] || continue
    local k=${d##*hugepages-}
    for n in $(nodes); do
      f="/sys/devices/system/node/node$n/hugepages/hugepages-$k"
      [ -d "$f" ] && echo "  node $n ${k}: $(cat "$f/nr_hugepages")/$(cat "$f/free_hugepages")"
    done
  done
  echo "hugetlbfs mounts:"
  awk '$3 == "hugetlbfs" {print "  " $2 " (" $4 ")"}' /proc/mounts
  grep -q pdpe1gb /proc/cpuinfo && echo "1G pages: supported by this CPU" || echo "1G pages: not supported by this CPU (no pdpe1gb)"
}

if [ "$show" = 1 ]; then
  show
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ${args[*]})"

unit=/etc/systemd/system/handoff-hugepages.service
installed=/usr/local/sbin/handoff-setup-hugepages
if [ "$unpersist" = 1 ]; then
  if command -v systemctl > /dev/null && [ -e "$unit" ]; then systemctl disable handoff-hugepages.service || true; fi
  rm -f "$unit" "$installed"
  if command -v systemctl > /dev/null; then systemctl daemon-reload || true; fi
  echo "setup-hugepages: boot-time reservation removed (the pages reserved now stay until reboot)"
  exit 0
fi

if [ "$size" = 1G ] && ! grep -q pdpe1gb /proc/cpuinfo; then
  die "this CPU has no 1G pages (no pdpe1gb in /proc/cpuinfo); use --size 2M"
fi
[ -d "/sys/kernel/mm/hugepages/hugepages-${kb}kB" ] || die "the kernel offers no ${size} pages (/sys/kernel/mm/hugepages/hugepages-${kb}kB)"

short=0
if [ -n "$total" ] && [ -z "$pages$node$per_node" ]; then
  # The old form: a total of 2M pages, the kernel spreads them over nodes.
  [ "$size" = 2M ] || die "a bare page count means 2M pages; for 1G use --pages N"
  echo "$total" > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
  got=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
  echo "setup-hugepages: $got of $total 2M pages reserved"
  [ "$got" -ge "$total" ] || short=1
else
  [ -z "$total" ] || die "give either PAGES or --pages/--node/--per-node"
  [ -n "$pages" ] || { [ "$size" = 1G ] && pages=2 || pages=1024; }
  declare -A want=()
  if [ -n "$per_node" ]; then
    i=0
    IFS=, read -r -a counts <<< "$per_node"
    for c in "${counts[@]}"; do want[$i]=$c; i=$((i + 1)); done
  elif [ -n "$node" ]; then
    want[$node]=$pages
  else
    for n in $(nodes); do want[$n]=$pages; done
  fi
  for n in "${!want[@]}"; do
    f=$(node_file "$n")
    [ -e "$f" ] || die "no NUMA node $n with ${size} pages ($f)"
    echo "${want[$n]}" > "$f"
    got=$(cat "$f")
    echo "setup-hugepages: node $n: $got of ${want[$n]} ${size} pages reserved"
    [ "$got" -ge "${want[$n]}" ] || short=1
  done
fi

mkdir -p "$mount_dir"
if ! mountpoint -q "$mount_dir"; then
  mount -t hugetlbfs -o "pagesize=$size" nodev "$mount_dir"
fi
echo "setup-hugepages: hugetlbfs ($size pages) on $mount_dir"

if [ "$persist" = 1 ]; then
  install -m 0755 "$0" "$installed"
  boot_args=()
  for a in "${args[@]}"; do [ "$a" = --persist ] || boot_args+=("$a"); done
  cat > "$unit" << EOF
[Unit]
Description=Hugepages for handoff (DPDK), from scripts/setup-hugepages.sh
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target
ConditionPathExists=/sys/kernel/mm/hugepages

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$installed ${boot_args[*]}

[Install]
WantedBy=sysinit.target
EOF
  if command -v systemctl > /dev/null; then
    systemctl daemon-reload && systemctl enable handoff-hugepages.service
  fi
  echo "setup-hugepages: $unit redoes this at boot ($installed ${boot_args[*]})"
  if [ "$size" = 1G ]; then
    echo "setup-hugepages: 1G pages are surest reserved by the kernel itself, before memory fragments;"
    echo "  add to GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot:"
    echo "    default_hugepagesz=1G hugepagesz=1G hugepages=${pages:-2}"
    echo "  (the kernel spreads them over the nodes; the unit then sets the per-node counts)"
  fi
fi

if [ "$short" = 1 ]; then
  die "fewer pages than asked: memory is fragmented or too small (1G pages: reserve them at boot, see --persist)"
fi

#!/usr/bin/env bash
# Binds NICs to vfio-pci for handoff (DPDK) and back to their kernel driver.
# Wraps dpdk-devbind.py (Debian package `dpdk`).
#
# Usage: scripts/bind-nic.sh status                 NICs, drivers, NUMA nodes and their CPUs
#        scripts/bind-nic.sh check [NIC...]         IOMMU and vfio readiness; changes nothing
#        sudo scripts/bind-nic.sh bind NIC... [--no-iommu] [--force]
#        sudo scripts/bind-nic.sh unbind NIC...|--all [--driver DRV]
#   NIC: a PCI address (0000:01:00.0 or 01:00.0) or a kernel interface name (enp1s0)
#
# bind     loads vfio-pci, checks that the IOMMU is on (or that no-IOMMU mode
#          was asked for), remembers each NIC's kernel driver in
#          /run/handoff-bind-nic.state, then binds the NICs to vfio-pci.
#          dpdk-devbind.py refuses an interface with routes (*Active*);
#          --force overrides that (you lose that interface's connectivity).
# --no-iommu  only for machines without an IOMMU (some VMs): turns on vfio's
#          unsafe no-IOMMU mode. The NIC can then DMA anywhere in memory and
#          the kernel is tainted; never use it where that matters.
# unbind   binds the NICs back to the kernel driver they had before `bind`
#          (or --driver DRV, e.g. ixgbe), --all: every NIC bind remembered.
#
# Bindings last until reboot. docs/bare-metal.md walks through the whole setup.
set -euo pipefail

state=/run/handoff-bind-nic.state
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "bind-nic: $*" >&2; exit 1; }

devbind() {
  local d
  for d in "$(command -v dpdk-devbind.py 2> /dev/null || true)" /usr/bin/dpdk-devbind.py \
    /usr/share/dpdk/usertools/dpdk-devbind.py /usr/local/bin/dpdk-devbind.py; do
    if [ -n "$d" ] && [ -x "$d" ]; then
      "$d" "$@"
      return
    fi
  done
  die "dpdk-devbind.py not found: apt-get install dpdk (or scripts/install-deps.sh)"
}

# A NIC argument as a full PCI address.
pci_of() {
  local a=$1
  if [ -e "/sys/class/net/$a/device" ]; then
    # The PCI function above the interface (virtio NICs have a virtioN in between).
    local d
    d=$(readlink -f "/sys/class/net/$a/device")
    while [ "$d" != / ] && ! [[ "${d##*/}" =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; do d=${d%/*}; d=${d:-/}; done
    [ "$d" != / ] || die "$1 is not a PCI device"
    echo "${d##*/}"
    return
  fi
  [[ "$a" =~ ^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]] && a="0000:$a"
  [ -e "/sys/bus/pci/devices/$a" ] || die "no such NIC: $1 (give a PCI address like 0000:01:00.0 or an interface name)"
  echo "$a"
}

driver_of() { # pci -> its driver now, or empty
  local l="/sys/bus/pci/devices/$1/driver"
  if [ -e "$l" ]; then basename "$(readlink -f "$l")"; fi
}

numa_of() { # pci -> NUMA node (-1 when the machine has one node or does not say)
  cat "/sys/bus/pci/devices/$1/numa_node" 2> /dev/null || echo -1
}

iommu_on() { [ -n "$(ls -A /sys/kernel/iommu_groups 2> /dev/null)" ]; }

noiommu_on() { [ "$(cat /sys/module/vfio/parameters/enable_unsafe_noiommu_mode 2> /dev/null)" = Y ]; }

cmd_status() {
  devbind --status-dev net
  echo
  echo "NUMA nodes and their CPUs (pick lcores on the NIC's node):"
  local n
  for n in /sys/devices/system/node/node[0-9]*; do
    [ -e "$n/cpulist" ] && echo "  node ${n##*node}: CPUs $(cat "$n/cpulist")"
  done
  echo "NICs by NUMA node:"
  local d pci drv
  for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/class" 2> /dev/null)" = 0x020000 ] || continue
    pci=${d##*/} drv=$(driver_of "$pci")
    echo "  $pci node $(numa_of "$pci") driver ${drv:-none}"
  done
}

# Read-only readiness report; returns 1 if vfio-pci could not work as things are.
cmd_check() {
  local ok=0 pci g others
  if iommu_on; then
    echo "IOMMU: on ($(find /sys/kernel/iommu_groups -mindepth 1 -maxdepth 1 | wc -l) groups)"
  elif noiommu_on; then
    echo "IOMMU: off, vfio no-IOMMU mode is on (unsafe; fine only for throwaway VMs)"
  else
    echo "IOMMU: off. Turn it on in the firmware (VT-d / AMD-Vi) and on the kernel command line:"
    echo "       intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD), then reboot."
    echo "       Without an IOMMU (some VMs) only: bind with --no-iommu."
    ok=1
  fi
  if [ -d /sys/bus/pci/drivers/vfio-pci ]; then
    echo "vfio-pci: loaded"
  elif ! command -v modprobe > /dev/null; then
    echo "vfio-pci: not loaded, and no modprobe to load it (apt-get install kmod)"
    ok=1
  elif modprobe -n vfio-pci > /dev/null 2>&1; then
    echo "vfio-pci: available, not loaded (bind loads it)"
  else
    echo "vfio-pci: no such module for kernel $(uname -r) (is linux-modules-extra / the kernel's modules package installed?)"
    ok=1
  fi
  for pci in "$@"; do
    pci=$(pci_of "$pci")
    echo "$pci: driver $(driver_of "$pci"), NUMA node $(numa_of "$pci")"
    if [ -e "/sys/bus/pci/devices/$pci/iommu_group" ]; then
      g=$(basename "$(readlink -f "/sys/bus/pci/devices/$pci/iommu_group")")
      others=$(find "/sys/kernel/iommu_groups/$g/devices" -mindepth 1 -maxdepth 1 -not -name "$pci" -printf '%f ')
      if [ -n "$others" ]; then
        echo "  IOMMU group $g also holds: $others (vfio needs every device of the group bound to vfio-pci or unbound)"
      else
        echo "  IOMMU group $g: this NIC alone"
      fi
    fi
  done
  return "$ok"
}

cmd_bind() {
  local noiommu=0 force=() nics=() pci drv
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-iommu) noiommu=1 ;;
      --force) force=(--force) ;;
      -*) die "bind: unknown option $1" ;;
      *) nics+=("$(pci_of "$1")") ;;
    esac
    shift
  done
  [ ${#nics[@]} -gt 0 ] || die "bind: name at least one NIC (see --help)"
  [ "$(id -u)" -eq 0 ] || die "bind: run as root"
  [ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci || die "cannot load vfio-pci (scripts/bind-nic.sh check)"
  if ! iommu_on; then
    if [ "$noiommu" = 1 ]; then
      echo "bind-nic: no IOMMU; turning on vfio's unsafe no-IOMMU mode as asked (--no-iommu)" >&2
      echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode
    elif ! noiommu_on; then
      die "the IOMMU is off, so vfio-pci cannot bind safely. Turn it on (intel_iommu=on iommu=pt or amd_iommu=on iommu=pt on the kernel command line, VT-d/AMD-Vi in the firmware), or on a machine without one, bind with --no-iommu (unsafe; see --help)"
    fi
  fi
  touch "$state"
  for pci in "${nics[@]}"; do
    drv=$(driver_of "$pci")
    if [ "$drv" = vfio-pci ]; then
      echo "bind-nic: $pci is bound to vfio-pci already"
      continue
    fi
    # Remember the kernel driver once (a second bind must not overwrite it).
    grep -q "^$pci " "$state" || echo "$pci ${drv:-none}" >> "$state"
    devbind "${force[@]}" -b vfio-pci "$pci"
    [ "$(driver_of "$pci")" = vfio-pci ] || die "$pci is not bound to vfio-pci (see dpdk-devbind.py's message above)"
    echo "bind-nic: $pci bound to vfio-pci (was ${drv:-none}); NUMA node $(numa_of "$pci")"
  done
  echo "bind-nic: use them with: handoff -a ${nics[0]} ... (docs/bare-metal.md)"
}

cmd_unbind() {
  local driver="" nics=() pci drv all=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --all) all=1 ;;
      --driver) driver=${2:?--driver takes a driver name}; shift ;;
      -*) die "unbind: unknown option $1" ;;
      *) nics+=("$(pci_of "$1")") ;;
    esac
    shift
  done
  if [ "$all" = 1 ] && [ -s "$state" ]; then
    while read -r pci _; do nics+=("$pci"); done < "$state"
  fi
  [ ${#nics[@]} -gt 0 ] || die "unbind: name a NIC, or --all (nothing remembered in $state)"
  [ "$(id -u)" -eq 0 ] || die "unbind: run as root"
  for pci in "${nics[@]}"; do
    drv=$driver
    [ -n "$drv" ] || drv=$(awk -v p="$pci" '$1 == p {print $2; exit}' "$state" 2> /dev/null || true)
    if [ -z "$drv" ] || [ "$drv" = none ]; then
      echo "bind-nic: $pci: no kernel driver remembered; unbinding only (give --driver DRV to bind one)" >&2
      devbind -u "$pci"
    else
      devbind -b "$drv" "$pci"
      echo "bind-nic: $pci bound back to $drv"
    fi
    if [ -f "$state" ]; then
      grep -v "^$pci " "$state" > "$state.new" || true
      mv "$state.new" "$state"
    fi
  done
}

case "${1:-}" in
  -h | --help | help) usage ;;
  status) shift; cmd_status "$@" ;;
  check) shift; cmd_check "$@" ;;
  bind) shift; cmd_bind "$@" ;;
  unbind) shift; cmd_unbind "$@" ;;
  "") usage >&2; exit 2 ;;
  *) die "unknown command '$1' (see --help)" ;;
esac

#!/usr/bin/env bash
# Makes local stand-ins for the base images the Dockerfile names, so buildah
# can build it on a machine with no Docker daemon and no image registry.
#
# Usage: sudo scripts/docker-standin.sh [--force] [SUITE...]
#   SUITE: bookworm (default), trixie
#   --force   remake the images even if they exist
#
# For each suite it makes, in buildah's vfs storage (as docker.io/library/...,
# so `FROM debian:bookworm-slim` resolves to them with --pull-never):
#   debian:SUITE        debootstrap --variant=minbase from this machine's own
#                       apt mirror (MIRROR=URL overrides it)
#   debian:SUITE-slim   the same, without docs, man pages and locales (and a
#                       dpkg rule that keeps them out, as the real slim image)
#   rust:1-SUITE        debian:SUITE + gcc, libc6-dev, pkg-config,
#                       ca-certificates + this machine's default Rust toolchain
#                       (rustup's, without its HTML docs), in /usr/local as in
#                       the official image
# Images that exist are kept (the script is idempotent). Remove one with
#   buildah --storage-driver vfs rmi docker.io/library/debian:trixie
#
# Inside these images apt reaches the same mirror as the host, but there is
# no crate registry: vendor the crates on the host (`cargo vendor`) and build
# offline. scripts/docker-build-test.sh does all of that.
set -euo pipefail

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
force=0 suites=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --force) force=1 ;;
    bookworm | trixie) suites+=("$1") ;;
    *) echo "docker-standin: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#suites[@]} -gt 0 ] || suites=(bookworm)
[ "$(id -u)" -eq 0 ] || { echo "docker-standin: run as root (buildah vfs storage, debootstrap)" >&2; exit 1; }

if ! command -v buildah > /dev/null || ! command -v debootstrap > /dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q buildah debootstrap > /dev/null
fi
B=(buildah --storage-driver vfs)

# This machine's Debian mirror: deb822 sources first, then sources.list.
mirror=${MIRROR:-}
if [ -z "$mirror" ]; then
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' "$f")
    [ -n "$mirror" ] && break
  done
fi
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2> /dev/null || true)
[ -n "$mirror" ] || { echo "docker-standin: no Debian mirror in /etc/apt (set MIRROR=URL)" >&2; exit 1; }

work=$(mktemp -d)
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do "${B[@]}" rm "$c" > /dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

have() { [ "$force" = 0 ] && "${B[@]}" inspect --type image "docker.io/library/$1" > /dev/null 2>&1; }
new() { # image -> container name (removed on exit)
  local c
  c=$("${B[@]}" from --pull-never "$1")
  containers+=("$c")
  echo "$c"
}
commit() { # container image
  "${B[@]}" commit --quiet --rm "$1" "docker.io/library/$2" > /dev/null
  echo "docker-standin: made $2"
}
PATH_ENV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
from_tree() { # root-directory image: a one-layer image of that tree
  local c
  tar -C "$1" -cf "$work/rootfs.tar" .
  c=$("${B[@]}" from scratch)
  containers+=("$c")
  "${B[@]}" add --quiet "$c" "$work/rootfs.tar" / > /dev/null
  rm -f "$work/rootfs.tar"
  "${B[@]}" config --env "PATH=$PATH_ENV" --cmd bash "$c"
  commit "$c" "$2"
}

for suite in "${suites[@]}"; do
  if ! have "debian:$suite" || ! have "debian:$suite-slim"; then
    root="$work/$suite"
    echo "docker-standin: debootstrap $suite from $mirror ..."
    debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$work/debootstrap-$suite.log" 2>&1 ||
      { tail -20 "$work/debootstrap-$suite.log" >&2; exit 1; }
    # As the official images: one sources entry, empty apt caches.
    printf 'deb %s %s main\n' "$mirror" "$suite" > "$root/etc/apt/sources.list"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    have "debian:$suite" || from_tree "$root" "debian:$suite"
    if ! have "debian:$suite-slim"; then
      # The slim variant: no docs, man pages or locales, and a dpkg rule
      # that keeps the next packages' ones out too.
      mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
      cat > "$root/etc/dpkg/dpkg.cfg.d/docker" << 'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
      find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
      find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
      rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/*
      find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
      from_tree "$root" "debian:$suite-slim"
    fi
    rm -rf "$root"
  fi

  if ! have "rust:1-$suite"; then
    command -v rustup > /dev/null || { echo "docker-standin: rust:1-$suite needs this machine's rustup toolchain" >&2; exit 1; }
    c=$(new "docker.io/library/debian:$suite")
    "${B[@]}" run --isolation chroot "$c" -- sh -c 'export DEBIAN_FRONTEND=noninteractive;
      apt-get update -q > /dev/null && apt-get install -y -q --no-install-recommends gcc libc6-dev pkg-config ca-certificates > /dev/null &&
      rm -rf /var/lib/apt/lists/*'
    m=$("${B[@]}" mount "$c")
    tc=$(rustup toolchain list | awk '/\(.*default.*\)/ {print $1; exit}')
    tc=${tc:-stable-x86_64-unknown-linux-gnu}
    src=$(realpath "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$tc")
    mkdir -p "$m/usr/local/rustup/toolchains/$tc" "$m/usr/local/cargo/bin"
    tar -C "$src" --exclude=./share/doc -cf - . | tar -C "$m/usr/local/rustup/toolchains/$tc" -xf -
    printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n\n[overrides]\n' "$tc" > "$m/usr/local/rustup/settings.toml"
    cp -a "${CARGO_HOME:-$HOME/.cargo}/bin/rustup" "$m/usr/local/cargo/bin/"
    for t in cargo rustc rustdoc cargo-fmt rustfmt cargo-clippy clippy-driver; do
      ln -sf rustup "$m/usr/local/cargo/bin/$t"
    done
    "${B[@]}" umount "$c" > /dev/null
    "${B[@]}" config --env RUSTUP_HOME=/usr/local/rustup --env CARGO_HOME=/usr/local/cargo \
      --env "PATH=/usr/local/cargo/bin:$PATH_ENV" "$c"
    commit "$c" "rust:1-$suite"
  fi
done
"${B[@]}" images

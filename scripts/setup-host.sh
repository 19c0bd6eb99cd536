#!/usr/bin/env bash
# Installs every host tool the build and the tests need, on Debian 12 (bookworm)
# or newer. Safe to run repeatedly. Mirrors come from this machine's own apt
# configuration: nothing here names a package host. Installs never remove a
# package (--no-remove): a multiarch version skew must fail loudly, not
# uninstall the host compiler.
set -euo pipefail

log() { printf '[setup-host] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  echo "setup-host: must run as root (it installs Debian packages)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
codename=${VERSION_CODENAME:?cannot tell the Debian release}

# Foreign architectures: musl-dev for each target comes in through multiarch.
changed_arch=0
for a in arm64 armhf armel; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
    dpkg --add-architecture "$a"; changed_arch=1
  fi
done

# UPX is in backports on bookworm. Derive the backports entry from the
# mirror apt already uses for the main suite.
backports=/etc/apt/sources.list.d/mikrotik-tailscale-backports.sources
changed_src=0
if [ "$codename" = bookworm ] && [ ! -f "$backports" ]; then
  uri=""; signed=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Walk deb822 stanzas; take the first one whose Suites has the bare codename.
    read -r uri signed < <(awk -v c="$codename" '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; s=""; k=""; ok=0
        for (i=1;i<=NF;i++) {
          if ($i ~ /^URIs:/)      { u=$i; sub(/^URIs:[ \t]*/,"",u); split(u,uu," "); u=uu[1] }
          if ($i ~ /^Signed-By:/) { k=$i; sub(/^Signed-By:[ \t]*/,"",k) }
          if ($i ~ /^Suites:/)    { s=" " $i " "; if (s ~ (" " c " ")) ok=1 }
        }
        if (ok && u != "") { print u, k; exit }
      }' "$f") || true
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk -v c="$codename" '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /:\/\//) { if ($(i+1)==c) { print $i; exit } } }' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ]; then
    echo "setup-host: cannot find the Debian mirror for '$codename' in apt's sources" >&2
    exit 1
  fi
  log "adding ${codename}-backports from the configured mirror"
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: ${codename}-backports"
    echo "Components: main"
    echo "Architectures: amd64"
    [ -n "$signed" ] && echo "Signed-By: $signed"
  } >"$backports.tmp"
  mv "$backports.tmp" "$backports"
  changed_src=1
fi

stamp=/var/lib/apt/periodic/mikrotik-tailscale-update-stamp
if [ $changed_arch = 1 ] || [ $changed_src = 1 ] || [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  log "apt-get update"
  # A mirror caught mid-sync can fail one index (seen for a security suite's
  # foreign-architecture list); the installs below fail loudly if it mattered.
  apt-get update -qq || { sleep 5; apt-get update -qq; } || log "apt-get update reported errors; continuing"
  mkdir -p "$(dirname "$stamp")"; touch "$stamp"
fi

pkgs=(
  make bzip2 xz-utils patch file
  musl-tools musl-dev
  gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-arm-linux-gnueabi
  musl-dev:arm64 musl-dev:armhf musl-dev:armel
  linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross linux-libc-dev-armel-cross
  qemu-user-static binfmt-support
  qemu-system-arm
  skopeo umoci runc
  iproute2 iperf3 procps
  busybox-static
  docker-registry apache2-utils
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}"
fi

if ! dpkg-query -W -f='${Status}' upx-ucl 2>/dev/null | grep -q 'install ok installed'; then
  log "installing upx-ucl"
  if [ "$codename" = bookworm ]; then
    apt-get install -y -qq --no-install-recommends --no-remove -t bookworm-backports upx-ucl
  else
    apt-get install -y -qq --no-install-recommends --no-remove upx-ucl
  fi
fi

# Go: Debian 12 has 1.19; backports' golang-1.23-go can fetch the toolchain
# go/go.mod pins, which install-go.sh puts on PATH when go there is older.
gopkg=golang-go; [ "$codename" = bookworm ] && gopkg=golang-1.23-go
if ! dpkg-query -W -f='${Status}' "$gopkg" 2>/dev/null | grep -q 'install ok installed'; then
  log "installing $gopkg"
  if [ "$codename" = bookworm ]; then
    apt-get install -y -qq --no-install-recommends --no-remove -t bookworm-backports "$gopkg"
  else
    apt-get install -y -qq --no-install-recommends --no-remove "$gopkg"
  fi
fi
bash "$(dirname "$0")/install-go.sh"

# binfmt_misc: foreign-architecture binaries run through qemu-user.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || {
    echo "setup-host: cannot mount binfmt_misc" >&2; exit 1; }
fi
for a in aarch64 arm; do
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$a" ]; then
    if command -v update-binfmts >/dev/null; then
      update-binfmts --enable "qemu-$a" >/dev/null 2>&1 || true
    fi
  fi
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$a" ] && [ -f "/usr/lib/binfmt.d/qemu-$a.conf" ]; then
    # The .conf line is exactly the register string; F (fix-binary) keeps it
    # working inside chroots and containers.
    cat "/usr/lib/binfmt.d/qemu-$a.conf" >/proc/sys/fs/binfmt_misc/register || true
  fi
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$a" ] || { echo "setup-host: could not register qemu-$a with binfmt_misc" >&2; exit 1; }
done
log "host ready"

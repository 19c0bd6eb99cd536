#!/usr/bin/env bash
# Makes `go` on PATH the Go that go/go.mod pins (its toolchain line, else its
# go line), on a machine that has none or an older one. Debian 12's own Go is
# 1.19; bookworm-backports has golang-1.23-go, and any Go from 1.21 on can
# fetch a newer toolchain itself (GOTOOLCHAIN=go<version>): it comes as the
# module golang.org/toolchain through the module proxy this machine's go is
# configured with, verified against the checksum database like any module.
# That toolchain is copied out of the module cache to
#   $MT_GO_PREFIX/go<version>   (default /usr/local/lib/mikrotik-tailscale)
# and linked as $MT_GO_BINDIR/go and gofmt (default /usr/local/bin).
# Does nothing when `go` on PATH can already run it: every go command of the
# build asks for the pinned release by GOTOOLCHAIN, and any Go from 1.21 on
# fetches it on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[install-go] %s\n' "$*" >&2; }
die() { printf 'install-go: %s\n' "$*" >&2; exit 1; }

want=$(awk '$1=="toolchain" { sub(/^go/, "", $2); print $2; exit }' go/go.mod)
[ -n "$want" ] || want=$(awk '$1=="go" { print $2; exit }' go/go.mod)
[ -n "$want" ] || die "go/go.mod has no go line"
prefix=${MT_GO_PREFIX:-/usr/local/lib/mikrotik-tailscale}
bindir=${MT_GO_BINDIR:-/usr/local/bin}

# "1.26.6" -> a number that orders versions: 1026006.
vnum() { local IFS=.; set -- $1; echo $(( ${1:-0} * 1000000 + ${2:-0} * 1000 + ${3:-0} )); }
goversion() { GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9.]*\).*/\1/p'; }

if have=$(command -v go) && v=$(goversion "$have") && [ -n "$v" ] && [ "$(vnum "$v")" -ge "$(vnum 1.21)" ]; then
  log "go $v on PATH ($have) is new enough to run go/go.mod's go$want (builds ask for it by GOTOOLCHAIN)"
  exit 0
fi

# A bootstrap Go that can download toolchains (1.21 or newer).
boot=""
for g in "$(command -v go || true)" /usr/lib/go-1.2[1-9]/bin/go; do
  [ -n "$g" ] && [ -x "$g" ] || continue
  v=$(goversion "$g") || continue
  if [ -n "$v" ] && [ "$(vnum "$v")" -ge "$(vnum 1.21)" ]; then boot=$g; break; fi
done
if [ -z "$boot" ]; then
  die "no Go 1.21 or newer to fetch go$want with: install golang-1.23-go from bookworm-backports (scripts/setup-host.sh does)"
fi

log "fetching go$want with $boot ($(goversion "$boot")) through the configured module proxy"
root=$(cd / && GOTOOLCHAIN="go$want" GOFLAGS= "$boot" env GOROOT) || die "could not fetch go$want (GOTOOLCHAIN=go$want $boot env GOROOT failed)"
got=$(goversion "$root/bin/go")
[ "$got" = "$want" ] || die "the fetched toolchain at $root says go$got, not go$want"

dest="$prefix/go$want"
if [ ! -x "$dest/bin/go" ]; then
  mkdir -p "$prefix"
  rm -rf "$dest.tmp"
  cp -a "$root" "$dest.tmp"
  # The module cache is read-only; the copy is ours to manage.
  chmod -R u+w "$dest.tmp"
  mv "$dest.tmp" "$dest"
fi
mkdir -p "$bindir"
for t in go gofmt; do ln -sfn "$dest/bin/$t" "$bindir/$t"; done
log "go$want at $dest, linked from $bindir/go"

#!/usr/bin/env bash
# The whole test suite: what CI runs and what the README tells you to run.
#   1. bootstrap the machine (packages, binfmt_misc, npm);
#   2. type-check;
#   3. build the images once (cached; later steps reuse dist/);
#      TEST_ONLY=unit builds only the amd64 root filesystem its tests need;
#   4. unit, integration and end-to-end tests with node's test runner.
# TEST_ONLY=unit|integration|e2e narrows step 4.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
npx tsc -p tsconfig.json --noEmit && npx tsc -p test/tsconfig.json && npx tsc -p bench/tsconfig.json --noEmit
# The Go side: the overlay added to tailscaled and the CA bundle tool, with the
# Go that go/go.mod pins (as every build runs it; fetched through the module proxy).
pinned_go=$(awk '$1=="toolchain" { print $2; exit }' go/go.mod)
[ -n "$pinned_go" ] || pinned_go=go$(awk '$1=="go" { print $2; exit }' go/go.mod)
(cd go && GOTOOLCHAIN=$pinned_go go vet ./... && GOTOOLCHAIN=$pinned_go go test ./...)
# PID 1 of the end-to-end router VMs (test/support/vm.ts), for both ARM targets.
(cd tools/vminit && for a in arm64 arm; do GOTOOLCHAIN=local GOOS=linux GOARCH=$a go vet . || exit 1; done)

only=${TEST_ONLY:-all}
# Tests that need dist/ fail without it, so every selection builds what it
# needs (cached: cheap when the inputs did not change). Unit tests need only
# the amd64 root filesystem (the entrypoint under the image's own busybox).
if [ "$only" = unit ]; then
  node bin/mikrotik-tailscale.js build --arch amd64 --no-images
else
  node bin/mikrotik-tailscale.js build
fi

files=()
add() { for f in "$@"; do [ -f "$f" ] && files+=("$f"); done; return 0; }
shopt -s nullglob globstar
case "$only" in
  unit) add test/unit/**/*.test.ts ;;
  integration) add test/integration/**/*.test.ts ;;
  e2e) add test/e2e/**/*.test.ts ;;
  all) add test/unit/**/*.test.ts test/integration/**/*.test.ts test/e2e/**/*.test.ts ;;
  *) echo "TEST_ONLY must be unit, integration, e2e or all" >&2; exit 2 ;;
esac
# The router VMs (slowest: full system emulation) run last, so everything
# else has reported first. Node's runner orders the files it is given by
# name, so they are a second run of their own.
vm=(); rest=()
for f in "${files[@]}"; do
  case "$f" in test/e2e/router-arm64.test.ts|test/e2e/router-armv7.test.ts) vm+=("$f") ;; *) rest+=("$f") ;; esac
done
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files found" >&2; exit 1
fi
# One file at a time (integration and e2e tests share namespaces and ports);
# each run prints how many tests and suites were skipped and, with CI=true,
# fails if any were.
status=0
if [ ${#rest[@]} -gt 0 ]; then
  node --import tsx test/support/run-tests.ts "${rest[@]}" || status=$?
fi
if [ ${#vm[@]} -gt 0 ]; then
  echo "== the router VMs (arm64, armv7) =="
  node --import tsx test/support/run-tests.ts "${vm[@]}" || status=$?
fi
exit $status

#!/usr/bin/env bash
# Runs ava with TAP output and ends with one line "N passed, N failed, N skipped" (what CI reads).
# Every skipped test is listed above that line with its title (which says why it was skipped). Under
# CI=true a skip is a failure: CI runs as root on a machine with /dev/net/tun, loop devices and the
# Linux peer prepared by tools/setup.sh, so every test can run there and a skip means something is
# missing.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
# The kernel's ELF, compiled by the first test file that needs it, for the others (test/kernel/helpers.ts).
DENALI_KERNEL_CACHE=$(mktemp -d "${TMPDIR:-/tmp}/denali-kernel-cache-XXXXXX")
export DENALI_KERNEL_CACHE
trap 'rm -rf "$DENALI_KERNEL_CACHE"' EXIT
npx ava --tap "$@" 2>&1 | tee out/test.tap
status=${PIPESTATUS[0]}
pass=$(grep -E '^# pass ' out/test.tap | awk '{s+=$3} END {print s+0}')
fail=$(grep -E '^# fail ' out/test.tap | awk '{s+=$3} END {print s+0}')
skip=$(grep -E '^# skip ' out/test.tap | awk '{s+=$3} END {print s+0}')
grep -E '^ok [0-9]+ - .* # SKIP$' out/test.tap | sed -E 's/^ok [0-9]+ - (.*) # SKIP$/skipped: \1/'
if [ "$status" != 0 ] && [ "$fail" = 0 ]; then fail=1; fi
if [ "${CI:-}" = true ] && [ "$skip" != 0 ]; then
  echo "CI=true: $skip test(s) skipped that this machine can run (see the list above): counted as failed"
  fail=$((fail + skip))
  status=1
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$status"

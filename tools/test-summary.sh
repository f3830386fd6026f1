#!/usr/bin/env bash
# Runs ava with TAP output and ends with one line "N passed, N failed" (what CI reads).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
npx ava --tap "$@" 2>&1 | tee out/test.tap
status=${PIPESTATUS[0]}
pass=$(grep -E '^# pass ' out/test.tap | awk '{s+=$3} END {print s+0}')
fail=$(grep -E '^# fail ' out/test.tap | awk '{s+=$3} END {print s+0}')
if [ "$status" != 0 ] && [ "$fail" = 0 ]; then fail=1; fi
echo "$pass passed, $fail failed"
exit "$status"

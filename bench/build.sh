#!/usr/bin/env bash
# Compiles the benchmarks, with the library and migrations they import, to
# .bench-build/ (bench/tsconfig.json), so that every benchmark runs what
# production runs: plain JavaScript, no TypeScript hook in any process.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .bench-build
npx tsc -p bench/tsconfig.json

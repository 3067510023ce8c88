#!/usr/bin/env bash
# Compiles the library and the benchmarks to .bench-build/, so benchmarks run
# what production runs (plain JavaScript, no TypeScript hook in any process).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .bench-build
npx tsc -p tsconfig.json --outDir .bench-build --noEmit false --declaration false --sourceMap false

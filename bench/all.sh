#!/usr/bin/env bash
# npm run bench: the throughput/latency benchmark (with its scale step), then
# the CPU one, compiled once (bench/build.sh), each entry in a node process of
# its own.
#   --no-cpu     the throughput/latency benchmark only
#   --cpu-only   the CPU benchmark only
#   --quick      a short run of both
#   --scale      of the throughput/latency benchmark, the scale step only; --no-scale: all but it
# Every other flag goes to the throughput/latency benchmark (see the top of
# bench/throughput/main.ts); the CPU benchmark's own flags: npm run bench:cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
throughput=(node .bench-build/bench/throughput/main.js)
cpu=(node .bench-build/bench/cpu/main.js)
run_throughput=1
run_cpu=1
for arg in "$@"; do
  case "$arg" in
    --no-cpu) run_cpu=0 ;;
    --cpu-only) run_throughput=0 ;;
    --quick)
      throughput+=("$arg")
      cpu+=("$arg")
      ;;
    *) throughput+=("$arg") ;;
  esac
done
if ((!run_throughput && !run_cpu)); then
  echo "bench: --no-cpu and --cpu-only leave nothing to run" >&2
  exit 1
fi
bash bench/build.sh
if ((run_throughput)); then "${throughput[@]}"; fi
if ((run_cpu)); then "${cpu[@]}"; fi

/**
 * nest-oban's CPU rows inside `npm run bench`: runs bench/cpu.ts (the
 * multi-process benchmark) compiled, as production runs, and reports its
 * progress and result to run.ts over IPC. Started by run.ts from
 * .bench-build/ after bench/build.sh.
 */
import { formatCpuResult, runCpuBenchmark } from './cpu';

const env = process.env;
runCpuBenchmark({
  // run.ts passes the peers' sizes, so both halves of the CPU table time the same batch.
  jobs: env.BENCH_CPU_JOBS ? Number(env.BENCH_CPU_JOBS) : undefined,
  rounds: env.BENCH_CPU_ROUNDS ? Number(env.BENCH_CPU_ROUNDS) : undefined,
  onProgress: (label, done, total) =>
    process.send!({ type: 'progress', label, fraction: total > 0 ? done / total : 0 }),
}).then(
  (result) => process.send!({ type: 'result', text: formatCpuResult(result), json: result }, () => process.exit(0)),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

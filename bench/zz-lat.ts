import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban, ObanModule, Worker } from '../lib';
import { Engine } from '../lib/engine/engine';
import { Notifier } from '../lib/notifier/notifier';
const marks: Record<string, number> = {};
let resolveStart: () => void;
@Worker({ queue: 'lat' })
class LatWorker {
  perform() {
    marks.perform = performance.now();
    resolveStart();
  }
}
const prefix = 'zzlat_' + Math.random().toString(36).slice(2, 7);
@Module({
  imports: [
    ObanModule.forRoot({
      connection: 'postgres://postgres@127.0.0.1:5432/test',
      prefix,
      migrate: true,
      queues: { lat: 10 },
    }),
  ],
  providers: [LatWorker],
})
class M {}
const origFetch = Engine.prototype.fetchJobs;
Engine.prototype.fetchJobs = async function (...a: any[]) {
  marks.fetchStart ??= performance.now();
  const r = await (origFetch as any).apply(this, a);
  if (r.length) marks.fetchEnd = performance.now();
  return r;
};
const origDispatch = (Notifier.prototype as any).dispatch;
(Notifier.prototype as any).dispatch = function (n: any) {
  if (n.channel.endsWith('oban_insert')) marks.notified ??= performance.now();
  return origDispatch.call(this, n);
};
(async () => {
  const app = await NestFactory.createApplicationContext(M, { logger: ['error'] });
  const oban = app.get(Oban);
  const engine = app.get(Engine);
  await new Promise((r) => setTimeout(r, 500));
  const rows: number[][] = [];
  for (let i = 0; i < 200; i++) {
    for (const k of Object.keys(marks)) delete marks[k];
    const started = new Promise<void>((r) => (resolveStart = r));
    const t0 = performance.now();
    if (process.argv[2] === 'raw')
      await engine.insertJobs([
        { queue: 'lat', worker: 'LatWorker', args: { i }, meta: {}, tags: [], max_attempts: 20, priority: 0 },
      ]);
    else if (process.argv[2] === 'sql')
      await (engine as any).db.query(engine.sql.insertJobs, [
        JSON.stringify([
          { queue: 'lat', worker: 'LatWorker', args: { i }, meta: {}, tags: [], max_attempts: 20, priority: 0 },
        ]),
      ]);
    else await oban.insert(LatWorker, { i });
    const tIns = performance.now();
    await started;
    rows.push([tIns - t0, marks.notified - t0, marks.fetchStart - t0, marks.fetchEnd - t0, marks.perform - t0]);
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  }
  const cols = ['insert returned', 'notified', 'claim sent', 'claim returned', 'perform'];
  for (let c = 0; c < cols.length; c++) {
    const v = rows.map((r) => r[c]).sort((a, b) => a - b);
    console.log(cols[c].padEnd(16), 'p50', v[100].toFixed(2), 'p95', v[190].toFixed(2), 'p99', v[197].toFixed(2));
  }
  await app.close();
  const { Pool } = require('pg');
  const p = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
  await p.query(`drop schema "${prefix}" cascade`);
  await p.end();
})();

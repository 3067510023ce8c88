import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { types } from 'pg';
import { parseTimestamptz } from '../lib/db/pg-types';

const pgParse = types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

/** Both parsers on one text: the same time, or both not a time. */
function same(text: string): void {
  const expected = pgParse(text);
  const got = parseTimestamptz(text);
  const time = (d: unknown) => (d instanceof Date ? d.getTime() : d);
  assert.deepEqual(time(got), time(expected), text);
}

describe('parseTimestamptz (the pools nest-oban opens)', () => {
  it('reads what Postgres writes as pg does, over many random times, fractions and offsets', () => {
    const pad = (v: number, w = 2) => String(v).padStart(w, '0');
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let k = 0; k < 20_000; k++) {
      const year = 1000 + Math.floor(random() * 9000);
      const digits = Math.floor(random() * 7); // 0: no fraction
      const fraction = digits === 0 ? '' : '.' + String(Math.floor(random() * 10 ** digits)).padStart(digits, '0');
      const hours = Math.floor(random() * 15);
      const minutes = [0, 0, 30, 45][Math.floor(random() * 4)];
      const offset = `${random() < 0.5 ? '+' : '-'}${pad(hours)}${minutes ? ':' + pad(minutes) : ''}`;
      same(
        `${year}-${pad(1 + Math.floor(random() * 12))}-${pad(1 + Math.floor(random() * 28))} ` +
          `${pad(Math.floor(random() * 24))}:${pad(Math.floor(random() * 60))}:${pad(Math.floor(random() * 60))}` +
          fraction +
          offset,
      );
    }
  });

  it('reads the edges as pg does: fractions, offsets, leap days, infinity, BC, early years', () => {
    for (const text of [
      '2026-12-03 18:20:01.123456+00',
      '2026-12-03 18:20:01.57+00',
      '2026-12-03 18:20:01.999999-12',
      '2024-02-29 23:59:59.9+05:30',
      '1970-01-01 00:00:00+00',
      'infinity',
      '-infinity',
      '2026-12-03 18:20:01 BC',
      '0044-03-15 12:00:00+00 BC',
      '0099-01-01 00:00:00+00',
      '0999-12-31 23:59:59+00',
      '1883-11-18 12:00:00+00:53:28',
      '12026-12-03 18:20:01+00',
    ]) {
      same(text);
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ObanConfigError } from '../lib/errors';
import { checkTimezone, parseCron } from '../lib/util/cron-expression';

const utc = (iso: string) => Date.parse(`${iso}Z`);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const HINT = 'Use 5 fields (minute hour day-of-month month day-of-week) or a nickname such as @hourly';

/** Asserts parseCron(expression) throws an ObanConfigError with exactly `message`. */
function rejects(expression: unknown, message: string) {
  assert.throws(
    () => parseCron(expression, 'Etc/UTC', 'crontab[2]'),
    (error: unknown) => {
      assert.ok(error instanceof ObanConfigError, `not an ObanConfigError: ${error}`);
      assert.equal(error.message, message);
      return true;
    },
  );
}

describe('parseCron', () => {
  it('keeps the trimmed expression and the timezone', () => {
    const schedule = parseCron('  */5 * * * *  ', 'Europe/Paris', 'crontab[0]');
    assert.equal(schedule.expression, '*/5 * * * *');
    assert.equal(schedule.timezone, 'Europe/Paris');
  });

  it('finds the next slot strictly after the given instant', () => {
    const every15 = parseCron('*/15 * * * *', 'Etc/UTC', 'w');
    assert.equal(iso(every15.next(utc('2024-01-01T00:00:00'))), '2024-01-01T00:15:00.000Z');
    assert.equal(iso(every15.next(utc('2024-01-01T00:14:59.999'))), '2024-01-01T00:15:00.000Z');
    assert.equal(iso(every15.next(utc('2024-01-01T00:15:00'))), '2024-01-01T00:30:00.000Z');
    assert.equal(iso(every15.next(utc('2024-01-01T23:50:00'))), '2024-01-02T00:00:00.000Z');
  });

  it('reads each of the 5 fields: lists, ranges, steps, names, Sunday as 0 or 7', () => {
    const next = (expression: string, after: string) => iso(parseCron(expression, 'Etc/UTC', 'w').next(utc(after)));
    // 2024-01-01 is a Monday.
    assert.equal(next('30 9 * * *', '2024-01-01T09:30:00'), '2024-01-02T09:30:00.000Z');
    assert.equal(next('0 8,20 * * *', '2024-01-01T09:00:00'), '2024-01-01T20:00:00.000Z');
    assert.equal(next('0 9-17/4 * * *', '2024-01-01T13:00:00'), '2024-01-01T17:00:00.000Z');
    assert.equal(next('0 12 * * MON', '2024-01-01T12:00:00'), '2024-01-08T12:00:00.000Z');
    assert.equal(next('0 0 * * 0', '2024-01-01T00:00:00'), '2024-01-07T00:00:00.000Z');
    assert.equal(next('0 0 * * 7', '2024-01-01T00:00:00'), '2024-01-07T00:00:00.000Z');
    assert.equal(next('0 0 1 JAN,JUL *', '2024-01-01T00:00:00'), '2024-07-01T00:00:00.000Z');
    assert.equal(next('0 0 29 2 *', '2024-03-01T00:00:00'), '2028-02-29T00:00:00.000Z', 'the next leap day');
  });

  it('accepts every nickname, in any case', () => {
    const after = utc('2024-01-15T10:20:00'); // a Monday
    const cases: Array<[string, string]> = [
      ['@yearly', '2025-01-01T00:00:00.000Z'],
      ['@annually', '2025-01-01T00:00:00.000Z'],
      ['@monthly', '2024-02-01T00:00:00.000Z'],
      ['@weekly', '2024-01-21T00:00:00.000Z'],
      ['@daily', '2024-01-16T00:00:00.000Z'],
      ['@midnight', '2024-01-16T00:00:00.000Z'],
      ['@hourly', '2024-01-15T11:00:00.000Z'],
      ['@DAILY', '2024-01-16T00:00:00.000Z'],
      [' @Hourly ', '2024-01-15T11:00:00.000Z'],
    ];
    for (const [expression, expected] of cases) {
      assert.equal(iso(parseCron(expression, 'Etc/UTC', 'w').next(after)), expected, expression);
    }
  });

  it('rejects what is not a non-empty string', () => {
    const message = (got: string) =>
      `crontab[2]: cron must be an expression like '*/5 * * * *' or '@daily', got ${got}`;
    rejects(undefined, message('undefined'));
    rejects(null, message('null'));
    rejects(5, message('5'));
    rejects('', message(''));
    rejects('   ', message('   '));
  });

  it('rejects an unknown nickname, listing the known ones', () => {
    const known = '@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly';
    rejects('@every', `crontab[2]: invalid cron expression '@every': unknown nickname (known: ${known})`);
    rejects('@reboot', `crontab[2]: invalid cron expression '@reboot': unknown nickname (known: ${known})`);
  });

  it('rejects expressions croner cannot read, with its reason and a hint', () => {
    rejects(
      '* * * * * *',
      `crontab[2]: invalid cron expression '* * * * * *': mode '5-part' requires exactly 5 parts, ` +
        `but pattern '* * * * * *' has 6 parts. ${HINT}`,
    );
    rejects('61 * * * *', `crontab[2]: invalid cron expression '61 * * * *': Invalid value for minute: 61. ${HINT}`);
    rejects('0 24 * * *', `crontab[2]: invalid cron expression '0 24 * * *': Invalid value for hour: 24. ${HINT}`);
    for (const bad of ['* * *', 'a b c d e', '0 0 32 * *', '0 0 * 13 *']) {
      assert.throws(
        () => parseCron(bad, 'Etc/UTC', 'crontab[2]'),
        (error: unknown) =>
          error instanceof ObanConfigError &&
          error.message.startsWith(`crontab[2]: invalid cron expression '${bad}': `) &&
          error.message.endsWith(HINT),
        bad,
      );
    }
  });

  it('rejects an expression that never matches a date', () => {
    for (const never of ['0 0 31 2 *', '0 0 30 2 *', '0 0 31 4 *']) {
      rejects(never, `crontab[2]: cron expression '${never}' never matches a date; check the day and month fields`);
    }
  });

  it('reads the fields in its timezone, following daylight saving time', () => {
    const paris = parseCron('0 9 * * *', 'Europe/Paris', 'w');
    assert.equal(iso(paris.next(utc('2024-01-10T00:00:00'))), '2024-01-10T08:00:00.000Z', 'winter: UTC+1');
    assert.equal(iso(paris.next(utc('2024-07-10T00:00:00'))), '2024-07-10T07:00:00.000Z', 'summer: UTC+2');
    const tokyo = parseCron('@midnight', 'Asia/Tokyo', 'w');
    assert.equal(iso(tokyo.next(utc('2024-01-01T00:00:00'))), '2024-01-01T15:00:00.000Z');
    const utcDaily = parseCron('0 9 * * *', 'Etc/UTC', 'w');
    assert.equal(iso(utcDaily.next(utc('2024-07-10T00:00:00'))), '2024-07-10T09:00:00.000Z');
  });

  it('fires once on the days New York springs forward and falls back', () => {
    // 2024-03-10: 02:00-03:00 local does not exist; 2024-11-03: 01:00-02:00 local happens twice.
    const gap = parseCron('30 2 * * *', 'America/New_York', 'w');
    assert.deepEqual(gap.slotsBetween(utc('2024-03-09T12:00:00'), utc('2024-03-11T12:00:00')).map(iso), [
      '2024-03-10T07:00:00.000Z',
      '2024-03-11T06:30:00.000Z',
    ]);
    const twice = parseCron('30 1 * * *', 'America/New_York', 'w');
    assert.deepEqual(twice.slotsBetween(utc('2024-11-02T12:00:00'), utc('2024-11-04T12:00:00')).map(iso), [
      '2024-11-03T05:30:00.000Z',
      '2024-11-04T06:30:00.000Z',
    ]);
  });

  it('slotsBetween lists the slots in (after, until], oldest first', () => {
    const every15 = parseCron('*/15 * * * *', 'Etc/UTC', 'w');
    assert.deepEqual(every15.slotsBetween(utc('2024-01-01T00:00:00'), utc('2024-01-01T01:00:00')).map(iso), [
      '2024-01-01T00:15:00.000Z',
      '2024-01-01T00:30:00.000Z',
      '2024-01-01T00:45:00.000Z',
      '2024-01-01T01:00:00.000Z',
    ]);
    assert.deepEqual(every15.slotsBetween(utc('2024-01-01T00:14:00'), utc('2024-01-01T00:29:59')).map(iso), [
      '2024-01-01T00:15:00.000Z',
    ]);
    assert.deepEqual(every15.slotsBetween(utc('2024-01-01T00:15:00'), utc('2024-01-01T00:15:00')), []);
    assert.deepEqual(every15.slotsBetween(utc('2024-01-01T00:16:00'), utc('2024-01-01T00:29:00')), []);
    assert.deepEqual(every15.slotsBetween(utc('2024-01-01T01:00:00'), utc('2024-01-01T00:00:00')), [], 'until < after');
    const minutely = parseCron('* * * * *', 'Etc/UTC', 'w');
    assert.equal(minutely.slotsBetween(utc('2024-01-01T00:00:00'), utc('2024-01-01T02:00:00')).length, 120);
  });
});

describe('checkTimezone', () => {
  it('returns an IANA zone the runtime knows', () => {
    assert.equal(checkTimezone('Europe/Paris', 'ObanModule: timezone'), 'Europe/Paris');
    assert.equal(checkTimezone('Etc/UTC', 'ObanModule: timezone'), 'Etc/UTC');
    assert.equal(checkTimezone('America/New_York', 'ObanModule: timezone'), 'America/New_York');
  });

  it('rejects a missing, empty or unknown zone, naming where', () => {
    const expect = (value: unknown, message: string) =>
      assert.throws(
        () => checkTimezone(value, 'crontab[1].timezone'),
        (error: unknown) => error instanceof ObanConfigError && error.message === message,
        String(value),
      );
    const notAName = (got: string) =>
      `crontab[1].timezone must be an IANA timezone name such as 'Europe/Paris', got ${got}`;
    expect(undefined, notAName('undefined'));
    expect(3, notAName('3'));
    expect('', notAName(''));
    expect(' ', notAName(' '));
    expect(
      'Mars/Olympus',
      `crontab[1].timezone: unknown timezone 'Mars/Olympus'; use an IANA name such as 'Etc/UTC' or 'America/New_York'`,
    );
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import {
  type DashboardApp,
  FlakyReportWorker,
  LongExportWorker,
  WelcomeMailWorker,
  bootDashboardApp,
} from './support/dashboard-app';
import { TestSchema } from './support/db';
import { waitFor } from './support/wait';

// The dashboard in a real browser: Debian's Chromium (apt-get install chromium; .ci/run does) driven by playwright-core.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(__dirname, '..', 'docs', 'dashboard.png');

describe('dashboard in a browser', () => {
  const schema = new TestSchema('dash_browser');
  let d: DashboardApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let failedIds: number[] = [];

  /** A page as `role` (the x-role header the test app's authorize reads). */
  async function open(role: string, hash: string, viewport = { width: 1280, height: 860 }): Promise<Page> {
    const context = await browser.newContext({ extraHTTPHeaders: { 'x-role': role }, viewport });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    (page as Page & { errors?: string[] }).errors = errors;
    await page.goto(`${d.base}${hash}`);
    return page;
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
    d = await bootDashboardApp({ prefix: schema.prefix, dashboard: { refreshInterval: 500 } });
    await d.oban.insertAll([
      ...['ada', 'grace', 'linus', 'margaret'].map((name) => ({
        worker: WelcomeMailWorker,
        args: { email: `${name}@example.com` },
        tags: ['signup'],
      })),
      ...[1, 2, 3].map((n) => ({ worker: FlakyReportWorker, args: { n } })),
      { worker: LongExportWorker, args: { ms: 60_000 } },
    ]);
    await d.oban.insertAll(
      Array.from({ length: 5 }, (_, n) => ({
        worker: WelcomeMailWorker,
        args: { email: `later${n}@example.com` },
        scheduleIn: 3600,
      })),
    );
    await waitFor('the jobs to run', async () => (await schema.count(`state IN ('completed', 'discarded')`)) === 7);
    // An hour of history in a queue no node here runs, read with the first figures: the activity chart has a shape.
    await schema.query(
      `INSERT INTO ${schema.jobs} (state, queue, worker, attempt, attempted_at, completed_at, discarded_at, errors)
       SELECT CASE WHEN i % 23 = 0 THEN 'discarded' ELSE 'completed' END::"${schema.prefix}".oban_job_state,
              'reports', 'MonthlyReportWorker', 1, t, CASE WHEN i % 23 <> 0 THEN t END, CASE WHEN i % 23 = 0 THEN t END,
              CASE WHEN i % 23 = 0 THEN ARRAY['{"attempt":1,"at":"2026-01-01T00:00:00Z","error":"Error: timeout"}'::jsonb]
                   ELSE ARRAY[]::jsonb[] END
       FROM generate_series(1, 1500) AS i
       CROSS JOIN LATERAL (SELECT now() - interval '1 second' * (3540 * sqrt(((i * 7919) % 1500) / 1500.0)) AS t) AS ts`,
    );
    failedIds = (
      await schema.query<{ id: string }>(`SELECT id FROM ${schema.jobs} WHERE state = 'discarded' ORDER BY id`)
    ).map((r) => Number(r.id));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await d?.close();
    await schema.drop();
  });

  it('shows the queues with their counts, and pauses and resumes one from the page', async () => {
    const page = await open('admin', '#/queues');
    const alpha = page.locator('tr[data-queue="alpha"]');
    await alpha.waitFor();
    const cells = await alpha.locator('td').allTextContents();
    assert.ok(cells.includes('4') && cells.includes('3'), `4 completed and 3 discarded in ${cells.join('|')}`);
    await page.getByRole('button', { name: 'Pause queue alpha' }).click();
    await page.getByRole('status').filter({ hasText: 'Paused alpha' }).waitFor();
    assert.equal(d.oban.checkQueue('alpha')?.paused, true);
    // Scale through the labelled limit field; a limit being typed survives the redraw another action causes.
    const betaLimit = page.locator('tr[data-queue="beta"]').getByLabel('Limit');
    await betaLimit.fill('4');
    await page.getByRole('button', { name: 'Resume queue alpha' }).click();
    await waitFor('alpha resumed', () => d.oban.checkQueue('alpha')?.paused === false);
    await page.getByRole('button', { name: 'Pause queue alpha' }).waitFor();
    assert.equal(await betaLimit.inputValue(), '4');
    await page.getByRole('button', { name: 'Scale queue beta' }).click();
    await waitFor('beta scaled', () => d.oban.checkQueue('beta')?.limit === 4);
    assert.deepEqual((page as Page & { errors?: string[] }).errors, []);
  });

  it('a limit being typed keeps its text and selection through the redraw an action forces', async () => {
    const page = await open('admin', '#/queues');
    const betaLimit = page.locator('tr[data-queue="beta"]').getByLabel('Limit');
    await betaLimit.waitFor();
    await betaLimit.focus();
    await page.keyboard.press('Control+A');
    // An action's redraw lands while the field is focused with its text selected (a dispatched click: focus stays).
    await page.getByRole('button', { name: 'Pause queue alpha' }).dispatchEvent('click');
    await page.getByRole('button', { name: 'Resume queue alpha' }).waitFor();
    await page.keyboard.type('6');
    assert.equal(await betaLimit.inputValue(), '6', 'the selected text was replaced, as typed over');
    await page.keyboard.press('Enter');
    await waitFor('beta scaled', () => d.oban.checkQueue('beta')?.limit === 6);
    await page.getByRole('button', { name: 'Resume queue alpha' }).click();
    await waitFor('alpha resumed', () => d.oban.checkQueue('alpha')?.paused === false);
    assert.deepEqual((page as Page & { errors?: string[] }).errors, []);
  });

  it('filters jobs, opens a failed one with its error and stack, and retries it', async () => {
    const page = await open('admin', '#/jobs?queue=alpha');
    await page.locator('tr[data-job]').first().waitFor();
    assert.equal(await page.locator('tr[data-job]').count(), 12);
    await page.getByLabel('State').selectOption('discarded');
    await page.getByRole('button', { name: 'Filter' }).click();
    await waitFor('only discarded jobs', async () => (await page.locator('tr[data-job]').count()) === 3);
    assert.deepEqual(await page.locator('tr[data-job] .state').allTextContents(), [
      'discarded',
      'discarded',
      'discarded',
    ]);
    assert.match(page.url(), /#\/jobs\?state=discarded&queue=alpha/);
    // The text filter searches args.
    await page.getByLabel('Args or meta contain').fill('"n": 2');
    await page.getByRole('button', { name: 'Filter' }).click();
    await waitFor('one job', async () => (await page.locator('tr[data-job]').count()) === 1);
    const id = failedIds[1];
    await page.getByRole('link', { name: `#${id}` }).click();
    await page.getByRole('heading', { name: `Job #${id}` }).waitFor();
    await page.getByText('report 2 failed: upstream timed out').first().waitFor();
    await page.getByText('Stack').click();
    await page.getByText('FlakyReportWorker.perform').first().waitFor();
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`Retry job #${id}?`).waitFor();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Retry: job #${id}` })
      .waitFor();
    const retried = await waitFor('the second attempt', async () => {
      const job = await d.oban.getJob(id);
      return job?.attempt === 2 && job.state === 'discarded' && job;
    });
    assert.equal(retried.errors.length, 2);
    await page.getByRole('heading', { name: 'Errors (2)' }).waitFor();
  });

  it('cancels a selection of jobs after a confirmation', async () => {
    const page = await open('admin', '#/jobs?state=scheduled');
    await waitFor('five scheduled jobs', async () => (await page.locator('tr[data-job]').count()) === 5);
    await page.getByLabel('Select all jobs shown').check();
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancel: 5 of 5' }).waitFor();
    assert.equal(await schema.count(`state = 'cancelled'`), 5);
  });

  it('a read-only viewer sees everything and can act on nothing', async () => {
    const page = await open('viewer', '#/queues');
    await page.locator('tr[data-queue="alpha"]').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Pause queue alpha' }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Scale queue alpha' }).isDisabled(), true);
    await page.goto(`${d.base}#/jobs/${failedIds[0]}`);
    await page.getByRole('heading', { name: `Job #${failedIds[0]}` }).waitFor();
    await page.getByText('report 1 failed').first().waitFor();
    for (const name of ['Retry', 'Cancel', 'Delete']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).isDisabled(), true, name);
    }
    // Nor through the API from the page itself.
    const status = await page.evaluate(
      async (url) =>
        (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status,
      `${d.base}/api/queues/alpha/pause`,
    );
    assert.equal(status, 403);
    assert.equal(d.oban.checkQueue('alpha')?.paused, false);
  });

  it('is reachable by keyboard and fits a phone', async () => {
    const page = await open('admin', '#/queues', { width: 390, height: 844 });
    await page.locator('tr[data-queue="alpha"]').waitFor();
    const wider = () => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok((await wider()) <= 0, `the queues page is ${await wider()}px wider than the phone`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Queues');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter'); // the Jobs link
    await page.locator('tr[data-job]').first().waitFor();
    assert.ok(
      (await wider()) <= 0,
      `the jobs page is ${await wider()}px wider than the phone (tables scroll in their panels)`,
    );
    await page.goto(`${d.base}#/nodes`);
    await page.getByText('(this one)').waitFor();
    await page.goto(`${d.base}#/activity`);
    await page.getByText('completed in the last hour').waitFor();
  });

  it('takes the README screenshot', async () => {
    const page = await open('admin', '#/queues', { width: 1366, height: 800 });
    await page.locator('tr[data-queue="alpha"]').waitFor();
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });
});

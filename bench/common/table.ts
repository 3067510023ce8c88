/** A table as strings, header first. */
export interface Table {
  header: string[];
  rows: string[][];
}

/** Columns aligned with two spaces between them: the first `labels` to the left, the figures after them to the right. */
export function renderText(table: Table, labels = 1): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < labels ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}

export function renderMarkdown(table: Table, labels = 1): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  const align = table.header.map((_, i) => (i < labels ? '---' : '---:'));
  return [line(table.header), line(align), ...table.rows.map(line)].join('\n');
}

/** Rows as a plain-text table: a header, a rule, left-aligned columns; "(none)" when empty. */
export function formatTable(columns: string[], rows: Array<Array<string | number | boolean | null>>): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((row) => row.map((cell) => (cell === null ? '-' : String(cell))));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), ''].join('\n');
}

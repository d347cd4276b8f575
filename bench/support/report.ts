/** What a scenario returns, and how the run prints it: Markdown tables (paste-able into BENCHMARKS.md) or JSON. */
export type Cell = string | number | boolean | undefined;

export interface Goal {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  /** undefined: not evaluated (skipped, or informational). */
  readonly met: boolean | undefined;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** More tables of the same scenario, printed after the first. */
  readonly extraTables?: readonly {
    readonly title: string;
    readonly columns: readonly string[];
    readonly rows: readonly (readonly Cell[])[];
  }[];
  /** Everything measured, for `--json`; each entry names what it was measured on. */
  readonly figures: unknown;
  readonly goals: readonly Goal[];
  readonly notes: readonly string[];
  /** Set when the scenario did not run, with the reason. */
  readonly skipped?: string;
}

export function formatCell(value: Cell): string {
  if (value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '—';
    if (Number.isInteger(value)) return value.toLocaleString('en-US');
    const abs = Math.abs(value);
    const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
    return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  return value.replace(/\|/g, '\\|');
}

/** A Markdown table with padded columns. */
export function markdownTable(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [columns.map((c) => formatCell(c)), ...rows.map((row) => columns.map((_, i) => formatCell(row[i])))];
  const widths = columns.map((_, i) => Math.max(3, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

export function goalCell(met: boolean | undefined): string {
  return met === undefined ? 'n/a' : met ? 'met' : 'NOT met';
}

export function renderScenario(result: ScenarioResult): string {
  const parts = [`### ${result.title}`, ''];
  if (result.skipped) {
    parts.push(`Skipped: ${result.skipped}`, '');
  }
  if (result.rows.length > 0) parts.push(markdownTable(result.columns, result.rows), '');
  for (const table of result.extraTables ?? []) {
    if (table.rows.length > 0) parts.push(`**${table.title}**`, '', markdownTable(table.columns, table.rows), '');
  }
  for (const note of result.notes) parts.push(`- ${note}`);
  if (result.notes.length > 0) parts.push('');
  return parts.join('\n');
}

export function renderGoals(results: readonly ScenarioResult[]): string {
  const rows = results.flatMap((r) => r.goals.map((g) => [g.goal, g.target, g.measured, goalCell(g.met)]));
  return ['### Goals', '', markdownTable(['goal', 'target', 'measured', 'verdict'], rows), ''].join('\n');
}

export function skippedScenario(id: string, title: string, reason: string): ScenarioResult {
  return { id, title, columns: [], rows: [], figures: { skipped: reason }, goals: [], notes: [], skipped: reason };
}

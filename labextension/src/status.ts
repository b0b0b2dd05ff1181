/**
 * Which study a notebook is about: the status bar's running study, the dashboard's study.
 */
import { formatDone, formatValue } from './format';
import type { Trans } from './trans';
import type { IStudy } from './types';

function latestFirst(a: IStudy, b: IStudy): number {
  return (b.updated ? Date.parse(b.updated) : 0) - (a.updated ? Date.parse(a.updated) : 0);
}

/** The notebook's running study (the most recently updated if several), or null. */
export function runningStudyOf(
  studies: readonly IStudy[],
  notebookPath: string | null | undefined
): IStudy | null {
  if (!notebookPath) {
    return null;
  }
  const running = studies.filter(s => s.state === 'running' && s.notebook === notebookPath);
  return running.sort(latestFirst)[0] ?? null;
}

/** `digits 12/40 · best 0.972` (`digits 12 · best 0.972` without a total). */
export function statusText(study: IStudy, trans: Trans): string {
  const text = `${study.name} ${formatDone(study)}`;
  return study.best_value === null
    ? text
    : trans.__('%1 · best %2', text, formatValue(study.best_value));
}

/**
 * The study whose dashboard a cell means: a study of that name (the notebook's own first),
 * else the first running study, else null.
 */
export function dashboardStudyFor(
  studies: readonly IStudy[],
  name: string | null,
  notebookPath: string | null | undefined
): IStudy | null {
  if (name !== null) {
    const named = studies.filter(s => s.name === name);
    const own = named.find(s => notebookPath && s.notebook === notebookPath);
    if (own ?? named[0]) {
      return own ?? named[0];
    }
  }
  return studies.find(s => s.state === 'running') ?? null;
}

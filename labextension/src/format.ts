/**
 * Text for studies: numbers, progress, best values, relative times. Pure, so it is tested alone.
 */
import type { Trans } from './trans';
import type { IStudy, StudyState } from './types';

/** A metric value with 4 significant digits, trailing zeros dropped (`0.972`, `12350`). */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }
  return String(Number(value.toPrecision(4)));
}

/** `12/40` (or `12` when the study has no total). */
export function formatDone(study: Pick<IStudy, 'done' | 'total'>): string {
  return study.total === null ? `${study.done}` : `${study.done}/${study.total}`;
}

/** `12/40 trials · 2 pruned · 1 failed · 1 discarded · 1 running`: the parts not zero. */
export function progressText(study: IStudy, trans: Trans): string {
  const done = study.total ?? study.done;
  const parts = [trans._n('%2 trial', '%2 trials', done, formatDone(study))];
  if (study.pruned > 0) {
    parts.push(trans._n('%1 pruned', '%1 pruned', study.pruned));
  }
  if (study.failed > 0) {
    parts.push(trans._n('%1 failed', '%1 failed', study.failed));
  }
  if ((study.discarded ?? 0) > 0) {
    parts.push(trans._n('%1 discarded', '%1 discarded', study.discarded ?? 0));
  }
  if (study.running > 0) {
    parts.push(trans._n('%1 running', '%1 running', study.running));
  }
  return parts.join(' · ');
}

/** A study's state in words (the badge). */
export function stateText(state: StudyState, trans: Trans): string {
  switch (state) {
    case 'running':
      return trans.__('running');
    case 'finished':
      return trans.__('finished');
    case 'stopped':
      return trans.__('stopped');
    case 'failed':
      return trans.__('failed');
    case 'unreadable':
      return trans.__('unreadable');
    default:
      return String(state);
  }
}

/** `best val_accuracy 0.972 (max)`, or null before a trial completed. */
export function bestText(study: IStudy, trans: Trans): string | null {
  if (study.front !== null && study.front !== undefined) {
    // several objectives: the front's size, as `jupyter-automl list` says it
    return trans._n('Pareto front of %1 trial', 'Pareto front of %1 trials', study.front);
  }
  if (study.best_value === null) {
    return null;
  }
  const value = study.metric
    ? `${study.metric} ${formatValue(study.best_value)}`
    : formatValue(study.best_value);
  switch (study.direction) {
    case 'maximize':
      return trans.__('best %1 (max)', value);
    case 'minimize':
      return trans.__('best %1 (min)', value);
    default:
      return trans.__('best %1', value);
  }
}

/** Widths (in percent of the bar) of the complete, pruned, failed and running segments. */
export interface IProgressSegments {
  complete: number;
  pruned: number;
  failed: number;
  running: number;
}

export function progressSegments(study: IStudy): IProgressSegments {
  const counted = study.complete + study.pruned + study.failed + study.running;
  const scale = Math.max(study.total ?? 0, counted, 1);
  const percent = (count: number): number => (100 * Math.max(count, 0)) / scale;
  return {
    complete: percent(study.complete),
    pruned: percent(study.pruned),
    failed: percent(study.failed),
    running: percent(study.running)
  };
}

/** Each unit's size in the one below it, and `n units ago` in words. */
const UNITS: [number, (n: number, trans: Trans) => string][] = [
  [60, (n, trans) => trans._n('%1 s ago', '%1 s ago', n)],
  [60, (n, trans) => trans._n('%1 min ago', '%1 min ago', n)],
  [24, (n, trans) => trans._n('%1 h ago', '%1 h ago', n)],
  [7, (n, trans) => trans._n('%1 d ago', '%1 d ago', n)]
];

/**
 * `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`, then the date; `just now` under 5 s
 * (and for times slightly in the future: clocks differ between browser and server).
 */
export function relativeTime(iso: string | null, now: number, trans: Trans): string | null {
  if (!iso) {
    return null;
  }
  const then = Date.parse(iso);
  if (Number.isNaN(then)) {
    return null;
  }
  let amount = Math.floor((now - then) / 1000);
  if (amount < 5) {
    return trans.__('just now');
  }
  for (const [size, ago] of UNITS) {
    if (amount < size) {
      return ago(amount, trans);
    }
    amount = Math.floor(amount / size);
  }
  return new Date(then).toISOString().slice(0, 10);
}

/** The full timestamp for a tooltip. */
export function absoluteTime(iso: string | null): string | null {
  if (!iso) {
    return null;
  }
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : new Date(then).toLocaleString();
}

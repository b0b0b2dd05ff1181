/**
 * Text for studies: numbers, progress, best values, relative times. Pure, so it is tested alone.
 */
import type { IStudy } from './types';

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
export function progressText(study: IStudy): string {
  const parts = [`${formatDone(study)} trials`];
  for (const [count, label] of [
    [study.pruned, 'pruned'],
    [study.failed, 'failed'],
    [study.discarded ?? 0, 'discarded'],
    [study.running, 'running']
  ] as const) {
    if (count > 0) {
      parts.push(`${count} ${label}`);
    }
  }
  return parts.join(' · ');
}

/** `best val_accuracy 0.972 (max)`, or null before a trial completed. */
export function bestText(study: IStudy): string | null {
  if (study.front !== null && study.front !== undefined) {
    // several objectives: the front's size, as `jupyter-automl list` says it
    return `Pareto front of ${study.front} trial${study.front === 1 ? '' : 's'}`;
  }
  if (study.best_value === null) {
    return null;
  }
  const metric = study.metric ? `${study.metric} ` : '';
  const direction =
    study.direction === 'maximize' ? ' (max)' : study.direction === 'minimize' ? ' (min)' : '';
  return `best ${metric}${formatValue(study.best_value)}${direction}`;
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

const UNITS: [number, string][] = [
  [60, 's'],
  [60, 'min'],
  [24, 'h'],
  [7, 'd']
];

/**
 * `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`, then the date; `just now` under 5 s
 * (and for times slightly in the future: clocks differ between browser and server).
 */
export function relativeTime(iso: string | null, now: number): string | null {
  if (!iso) {
    return null;
  }
  const then = Date.parse(iso);
  if (Number.isNaN(then)) {
    return null;
  }
  let amount = Math.floor((now - then) / 1000);
  if (amount < 5) {
    return 'just now';
  }
  for (const [size, unit] of UNITS) {
    if (amount < size) {
      return `${amount} ${unit} ago`;
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

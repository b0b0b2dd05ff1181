import {
  absoluteTime,
  bestText,
  formatDone,
  formatValue,
  progressSegments,
  progressText,
  relativeTime
} from '../format';
import { english } from '../trans';
import { study } from './fixtures';

describe('formatValue', () => {
  it.each([
    [0.972, '0.972'],
    [0.97222222, '0.9722'],
    [1, '1'],
    [12345.6, '12350'],
    [0.000012346, '0.00001235'],
    [-3.14159, '-3.142'],
    [1e-9, '1e-9'],
    [Infinity, 'Infinity'],
    [NaN, 'NaN']
  ])('%p → %s', (value, text) => {
    expect(formatValue(value)).toBe(text);
  });
});

describe('progress', () => {
  it('shows done/total, or done alone without a total', () => {
    expect(formatDone({ done: 12, total: 40 })).toBe('12/40');
    expect(formatDone({ done: 12, total: null })).toBe('12');
  });

  it('lists pruned, failed and running only when there are some', () => {
    expect(progressText(study(), english)).toBe('12/40 trials · 2 pruned · 1 failed · 1 running');
    expect(progressText(study({ pruned: 0, failed: 0, running: 0, total: null }), english)).toBe(
      '12 trials'
    );
    expect(progressText(study({ discarded: 2 }), english)).toBe(
      '12/40 trials · 2 pruned · 1 failed · 2 discarded · 1 running'
    );
  });

  it('sizes the bar segments against the total', () => {
    expect(progressSegments(study())).toEqual({
      complete: 25,
      pruned: 5,
      failed: 2.5,
      running: 2.5
    });
  });

  it('fills the bar with the trials counted when there is no total, or more than it', () => {
    const open = progressSegments(study({ total: null, complete: 3, pruned: 1, failed: 0 }));
    expect(open.complete + open.pruned + open.running).toBeCloseTo(100);
    const over = progressSegments(study({ total: 4, complete: 8, pruned: 0, failed: 0 }));
    expect(over.complete + over.running).toBeCloseTo(100);
  });

  it('draws nothing for an empty study', () => {
    const empty = study({ done: 0, complete: 0, pruned: 0, failed: 0, running: 0 });
    expect(progressSegments(empty)).toEqual({ complete: 0, pruned: 0, failed: 0, running: 0 });
  });
});

describe('bestText', () => {
  it('names the metric and the direction', () => {
    expect(bestText(study(), english)).toBe('best val_accuracy 0.972 (max)');
    expect(
      bestText(
        study({ metric: 'val_loss', direction: 'minimize', best_value: 0.1234567 }),
        english
      )
    ).toBe('best val_loss 0.1235 (min)');
  });

  it('is the Pareto front size with several objectives, as jupyter-automl list says it', () => {
    expect(bestText(study({ front: 3, best_value: null, direction: null }), english)).toBe(
      'Pareto front of 3 trials'
    );
    expect(bestText(study({ front: 1, best_value: null, direction: null }), english)).toBe(
      'Pareto front of 1 trial'
    );
  });

  it('is plain without a metric, and null before any trial completed', () => {
    expect(bestText(study({ metric: null, direction: null, best_value: 2 }), english)).toBe(
      'best 2'
    );
    expect(bestText(study({ best_value: null }), english)).toBeNull();
  });
});

describe('relativeTime', () => {
  const now = Date.parse('2026-11-26T06:20:00Z');
  const ago = (seconds: number): string => new Date(now - seconds * 1000).toISOString();

  it.each([
    [0, 'just now'],
    [4, 'just now'],
    [-30, 'just now'],
    [12, '12 s ago'],
    [59, '59 s ago'],
    [60, '1 min ago'],
    [3599, '59 min ago'],
    [3600, '1 h ago'],
    [86399, '23 h ago'],
    [2 * 86400, '2 d ago'],
    [30 * 86400, '2026-10-27']
  ])('%p s before → %s', (seconds, text) => {
    expect(relativeTime(ago(seconds), now, english)).toBe(text);
  });

  it('accepts offsets and returns null for nothing or garbage', () => {
    expect(relativeTime('2026-11-26T08:19:00+02:00', now, english)).toBe('1 min ago');
    expect(relativeTime(null, now, english)).toBeNull();
    expect(relativeTime('yesterday', now, english)).toBeNull();
    expect(absoluteTime(null)).toBeNull();
    expect(absoluteTime('nope')).toBeNull();
    expect(absoluteTime('2026-11-26T06:20:00Z')).toEqual(expect.any(String));
  });
});

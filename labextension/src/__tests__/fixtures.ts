import type { IExportFormat, IStudy } from '../types';

/** A study as the server lists it; override what a test is about. */
export function study(overrides: Partial<IStudy> = {}): IStudy {
  return {
    id: 'notebooks/automl_runs/digits',
    name: 'digits',
    folder: 'notebooks/automl_runs',
    notebook: 'notebooks/01_quickstart.ipynb',
    state: 'running',
    done: 12,
    total: 40,
    complete: 10,
    pruned: 2,
    failed: 1,
    running: 1,
    best_value: 0.972,
    best_params: { units: 64 },
    front: null,
    metric: 'val_accuracy',
    direction: 'maximize',
    updated: '2026-11-26T06:20:00+00:00',
    command: 'jupyter-automl run notebooks/01_quickstart.ipynb',
    ...overrides
  };
}

/** Export formats as the server lists them (ids and labels). */
export function formats(...ids: string[]): IExportFormat[] {
  return (ids.length ? ids : ['keras']).map(id => ({ id, label: `${id} (label)` }));
}

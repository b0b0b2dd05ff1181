/**
 * The shapes of the server extension's REST API (`jupyter-automl/api/`).
 *
 * Kept free of JupyterLab imports so the pure modules and their tests can use them.
 */

export type StudyState = 'running' | 'finished' | 'stopped' | 'failed' | 'unreadable';

export type Direction = 'maximize' | 'minimize';

/** One study folder, as `GET studies` lists it. */
export interface IStudy {
  /** The study folder's path relative to the server root (posix). */
  id: string;
  name: string;
  folder: string;
  notebook: string | null;
  state: StudyState;
  done: number;
  total: number | null;
  complete: number;
  pruned: number;
  failed: number;
  /** Trials discarded by hand (`%automl discard`): counted apart from the failed. */
  discarded?: number;
  running: number;
  best_value: number | null;
  best_params: Record<string, unknown> | null;
  /** Trials on the Pareto front of a study with several objectives; null with one. */
  front: number | null;
  metric: string | null;
  direction: Direction | null;
  updated: string | null;
  command: string | null;
  /** Why the study cannot be read (state `unreadable`). */
  error?: string;
}

/** A format the best model can be exported in: a row of the server's format table. */
export interface IExportFormat {
  /** What `POST studies/<id>/export` takes as `format` (`keras`, `tflite-quant`, ...). */
  id: string;
  /** Its name in the export dialog. */
  label: string;
}

/** `GET studies`. */
export interface IStudyListing {
  /** The export dialog's choices, in the server's order. */
  formats: IExportFormat[];
  studies: IStudy[];
}

/** `GET studies/<id>`. */
export interface IStudyDetail {
  study: IStudy;
  columns: string[];
  trials: Record<string, unknown>[];
}

/** `POST studies/<id>/export`. */
export interface IExportResult {
  path: string;
}

/** `POST studies/<id>/trials/<n>/discard` and `.../rerun`: what was done, in words. */
export interface ITrialEditResult {
  said: string;
  trial: number;
  /** The rerun's trial number (rerun only). */
  queued?: number | null;
}

/** The per-study actions the sidebar offers. */
export type StudyAction = 'dashboard' | 'notebook' | 'stop' | 'export' | 'trials' | 'copy';

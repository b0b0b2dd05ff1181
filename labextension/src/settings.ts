/**
 * The extension's settings (schema/plugin.json, edited in JupyterLab's Settings Editor), read
 * from the registry's composite values. Pure, so it is tested alone.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

export interface IAutomlSettings {
  /** Seconds between listings while a study runs. */
  runningRefreshSeconds: number;
  /** Seconds between listings otherwise. */
  idleRefreshSeconds: number;
  /** The export dialog's first choice, when the server offers it. */
  defaultExportFormat: string;
  /** Whether Stop asks first. */
  confirmStop: boolean;
}

/** The schema's defaults: what the extension does before (or without) the registry. */
export const DEFAULT_SETTINGS: Readonly<IAutomlSettings> = {
  runningRefreshSeconds: 2,
  idleRefreshSeconds: 10,
  defaultExportFormat: 'keras',
  confirmStop: true
};

/** The settings in `composite`; a missing value, or one of the wrong type, is the default. */
export function readSettings(composite: ReadonlyPartialJSONObject): IAutomlSettings {
  const number = (key: 'runningRefreshSeconds' | 'idleRefreshSeconds'): number => {
    const value = composite[key];
    return typeof value === 'number' && value > 0 ? value : DEFAULT_SETTINGS[key];
  };
  const format = composite.defaultExportFormat;
  const confirm = composite.confirmStop;
  return {
    runningRefreshSeconds: number('runningRefreshSeconds'),
    idleRefreshSeconds: number('idleRefreshSeconds'),
    defaultExportFormat:
      typeof format === 'string' ? format : DEFAULT_SETTINGS.defaultExportFormat,
    confirmStop: typeof confirm === 'boolean' ? confirm : DEFAULT_SETTINGS.confirmStop
  };
}

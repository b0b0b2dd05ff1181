import { readFileSync } from 'fs';
import { join } from 'path';

import { StudiesModel } from '../model';
import { DEFAULT_SETTINGS, readSettings } from '../settings';
import { english, interpolate } from '../trans';
import { formats, study } from './fixtures';

/** schema/plugin.json, as JupyterLab's Settings Editor reads it. */
const schema = JSON.parse(readFileSync(join(__dirname, '../../schema/plugin.json'), 'utf8')) as {
  properties: Record<string, { default: unknown }>;
};

describe('settings', () => {
  it('has the schema defaults, property for property', () => {
    const defaults = Object.fromEntries(
      Object.entries(schema.properties).map(([key, property]) => [key, property.default])
    );
    expect(defaults).toEqual(DEFAULT_SETTINGS);
  });

  it('reads the composite, a value of the wrong type as its default', () => {
    expect(readSettings({})).toEqual(DEFAULT_SETTINGS);
    expect(
      readSettings({
        runningRefreshSeconds: 0.5,
        idleRefreshSeconds: 'soon',
        defaultExportFormat: 'tflite',
        confirmStop: false
      })
    ).toEqual({
      ...DEFAULT_SETTINGS,
      runningRefreshSeconds: 0.5,
      defaultExportFormat: 'tflite',
      confirmStop: false
    });
    expect(readSettings({ runningRefreshSeconds: -1 }).runningRefreshSeconds).toBe(2);
  });
});

describe('StudiesModel.setIntervals', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('reschedules the next poll with the new interval', async () => {
    const listStudies = jest.fn(() => Promise.resolve({ formats: formats(), studies: [study()] }));
    const model = new StudiesModel({ source: { listStudies }, isPageHidden: () => false });
    model.setDemand('sidebar', true);
    await jest.advanceTimersByTimeAsync(0);
    expect(listStudies).toHaveBeenCalledTimes(1);

    model.setIntervals(500, 10_000); // a study runs: the running interval applies
    await jest.advanceTimersByTimeAsync(500);
    expect(listStudies).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(500);
    expect(listStudies).toHaveBeenCalledTimes(3);

    model.setIntervals(5000, 10_000);
    await jest.advanceTimersByTimeAsync(4900);
    expect(listStudies).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(100);
    expect(listStudies).toHaveBeenCalledTimes(4);
    model.dispose();
  });
});

describe('english', () => {
  it('fills the placeholders as JupyterLab gettext does', () => {
    expect(english.__('Stop %1?', 'digits')).toBe('Stop digits?');
    expect(english._n('%1 trial', '%1 trials', 1)).toBe('1 trial');
    expect(english._n('%1 trial of %2', '%1 trials of %2', 3, 'digits')).toBe(
      '3 trials of digits'
    );
    expect(interpolate('100%% of %1', ['x'])).toBe('100% of x');
  });
});

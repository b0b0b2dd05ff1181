import { AutomlClient, type Fetcher } from '../api';
import { english } from '../trans';
import { applyTrialEdit, trialChoices, verbsFor } from '../trials';
import type { IStudyDetail } from '../types';
import { study } from './fixtures';

const BASE = 'http://localhost:8888/jupyter-automl/api/';

function detail(): IStudyDetail {
  return {
    study: study(),
    columns: ['number', 'state', 'val_accuracy', 'params', 'discarded'],
    trials: [
      { number: 0, state: 'COMPLETE', val_accuracy: 0.91234, params: {} },
      { number: 1, state: 'DISCARDED', val_accuracy: 0.99, discarded: 'noisy (by ana)' },
      { number: 2, state: 'FAIL', val_accuracy: null },
      { number: 3, state: 'PRUNED', val_accuracy: 0.5 },
      { number: 4, state: 'RUNNING', val_accuracy: null }
    ]
  };
}

/** A fake server that records the calls and answers 200 with `body`. */
function recording(body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetcher: Fetcher = (url, init) => {
    calls.push({ url, init });
    return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
  };
  return { calls, client: new AutomlClient(BASE, fetcher) };
}

describe('trial choices', () => {
  it('offers what each finished state allows, nothing while a trial runs or waits', () => {
    expect(verbsFor('COMPLETE')).toEqual(['discard', 'rerun', 'rerun-discard']);
    expect(verbsFor('PRUNED')).toEqual(['discard', 'rerun', 'rerun-discard']);
    expect(verbsFor('DISCARDED')).toEqual(['undo', 'rerun']);
    expect(verbsFor('FAIL')).toEqual(['rerun']);
    expect(verbsFor('RUNNING')).toEqual([]);
    expect(verbsFor('WAITING')).toEqual([]);
  });

  it('lists the finished trials newest first, with their value', () => {
    const choices = trialChoices(detail(), 'val_accuracy');
    expect(choices.map(c => c.number)).toEqual([3, 2, 1, 0]);
    expect(choices[3].label).toBe('0 · COMPLETE · val_accuracy 0.9123');
    expect(choices[2]).toMatchObject({ state: 'DISCARDED', verbs: ['undo', 'rerun'] });
    expect(choices[1].label).toBe('2 · FAIL');
  });

  it('reads the value column when the study names no metric', () => {
    const rows = { ...detail(), columns: ['number', 'state', 'value'] };
    rows.trials = [{ number: 0, state: 'COMPLETE', value: 2.5 }];
    expect(trialChoices(rows, null)[0].label).toBe('0 · COMPLETE · value 2.500');
  });

  it('interpolates without a translator', () => {
    expect(english.__('Trial %1 of %2', 3, 'digits')).toBe('Trial 3 of digits');
  });
});

describe('applyTrialEdit', () => {
  const said = { said: 'trial 3 of study digits is discarded', trial: 3 };

  it('posts a discard with its reason, and an undo without one', async () => {
    const { calls, client } = recording(said);
    await expect(
      applyTrialEdit(client, 'n/runs/digits', { trial: 3, verb: 'discard', reason: ' noisy ' })
    ).resolves.toEqual(said);
    await applyTrialEdit(client, 'n/runs/digits', { trial: 3, verb: 'undo', reason: 'x' });
    expect(calls.map(c => c.url)).toEqual([
      `${BASE}studies/n/runs/digits/trials/3/discard`,
      `${BASE}studies/n/runs/digits/trials/3/discard`
    ]);
    expect(calls[0].init.method).toBe('POST');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ reason: 'noisy' });
    expect(JSON.parse(calls[1].init.body as string)).toEqual({ undo: true });
  });

  it("posts a rerun, alone or in the old trial's place", async () => {
    const { calls, client } = recording({ ...said, queued: 7 });
    await applyTrialEdit(client, 'a b/digits', { trial: 3, verb: 'rerun', reason: '' });
    await applyTrialEdit(client, 'a b/digits', { trial: 3, verb: 'rerun-discard', reason: '' });
    expect(calls[0].url).toBe(`${BASE}studies/a%20b/digits/trials/3/rerun`);
    expect(JSON.parse(calls[0].init.body as string)).toEqual({});
    expect(JSON.parse(calls[1].init.body as string)).toEqual({ discard: true });
  });
});

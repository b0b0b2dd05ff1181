/**
 * The sidebar's "Trials" action, its choices: discard a bad trial (or take a discard back), or
 * queue its parameters to run again, as `%automl discard` and `%automl rerun` do, through the
 * server's `POST studies/<id>/trials/<n>/discard|rerun`. Pure (tested without JupyterLab);
 * the dialog (trialDialog.ts) is a small form over them.
 */
import type { AutomlClient } from './api';
import type { IStudyDetail, ITrialEditResult } from './types';

/** What can be done to a trial. */
export type TrialVerb = 'discard' | 'undo' | 'rerun' | 'rerun-discard';

/** A finished trial the dialog offers, with what can be done to it. */
export interface ITrialChoice {
  number: number;
  state: string;
  label: string;
  verbs: TrialVerb[];
}

/** What the dialog asks the server for. */
export interface ITrialEditRequest {
  trial: number;
  verb: TrialVerb;
  reason: string;
}

/** The verbs a trial in `state` (a row's state: COMPLETE, PRUNED, FAIL, DISCARDED) offers. */
export function verbsFor(state: string): TrialVerb[] {
  switch (state) {
    case 'COMPLETE':
    case 'PRUNED':
      return ['discard', 'rerun', 'rerun-discard'];
    case 'DISCARDED':
      return ['undo', 'rerun'];
    case 'FAIL':
      return ['rerun'];
    default: // RUNNING, WAITING: nothing until it has finished
      return [];
  }
}

/** The study's trials that can be edited, newest first: `12 · COMPLETE · val_accuracy 0.97`. */
export function trialChoices(detail: IStudyDetail, metric: string | null): ITrialChoice[] {
  const valueColumn = metric && detail.columns.includes(metric) ? metric : 'value';
  const choices: ITrialChoice[] = [];
  for (const row of detail.trials) {
    const number = row['number'];
    const state = typeof row['state'] === 'string' ? row['state'] : '';
    const verbs = verbsFor(state);
    if (typeof number !== 'number' || verbs.length === 0) {
      continue;
    }
    const value = row[valueColumn];
    const shown = typeof value === 'number' ? ` · ${valueColumn} ${value.toPrecision(4)}` : '';
    choices.push({ number, state, label: `${number} · ${state}${shown}`, verbs });
  }
  return choices.reverse();
}

/** Sends `request` for the study `id`; resolves with what the server did, in words. */
export function applyTrialEdit(
  client: AutomlClient,
  id: string,
  request: ITrialEditRequest
): Promise<ITrialEditResult> {
  const reason = request.reason.trim() || undefined;
  switch (request.verb) {
    case 'discard':
      return client.discardTrial(id, request.trial, { reason });
    case 'undo':
      return client.discardTrial(id, request.trial, { undo: true });
    case 'rerun':
      return client.rerunTrial(id, request.trial, {});
    case 'rerun-discard':
      return client.rerunTrial(id, request.trial, { discard: true, reason });
  }
}

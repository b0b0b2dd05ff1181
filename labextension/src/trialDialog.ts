/**
 * The sidebar's "Trials" dialog: which trial, what to do to it (trials.ts), and why.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type { AutomlClient } from './api';
import {
  applyTrialEdit,
  type ITrialChoice,
  type ITrialEditRequest,
  trialChoices,
  type TrialVerb
} from './trials';
import type { Trans } from './trans';
import type { IStudy } from './types';

/** The action's flow: read the trials, ask which and what, send it, say what was done. */
export async function editTrials(
  client: AutomlClient,
  study: IStudy,
  trans: Trans
): Promise<boolean> {
  const title = trans.__('Discard or rerun a trial of %1', study.name);
  const choices = trialChoices(await client.getStudy(study.id), study.metric);
  if (choices.length === 0) {
    await showDialog({
      title,
      body: trans.__('The study has no finished trial yet.'),
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
    return false;
  }
  const answer = await showDialog<ITrialEditRequest>({
    title,
    body: new TrialEditor(choices, trans),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Apply') })
    ],
    focusNodeSelector: 'select'
  });
  if (!answer.button.accept || !answer.value) {
    return false;
  }
  const result = await applyTrialEdit(client, study.id, answer.value);
  await showDialog({
    title: trans.__('Trial %1 of %2', answer.value.trial, study.name),
    body: result.said,
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
  return true;
}

let editorCount = 0;

/** The dialog's form: the trial, what to do to it, and why. */
class TrialEditor extends Widget implements Dialog.IBodyWidget<ITrialEditRequest> {
  constructor(
    private readonly choices: readonly ITrialChoice[],
    private readonly trans: Trans
  ) {
    super();
    this.addClass('jp-AutoML-trialEditor');
    const id = `jp-AutoML-trial-${++editorCount}`;
    for (const choice of choices) {
      this._trial.appendChild(new Option(choice.label, String(choice.number)));
    }
    this._reason.type = 'text';
    this._reason.placeholder = trans.__('why (kept with the trial)');
    for (const [field, name] of [
      [this._trial, 'trial'],
      [this._verb, 'verb'],
      [this._reason, 'reason']
    ] as const) {
      field.id = `${id}-${name}`;
      field.className = 'jp-mod-styled';
    }
    this._trial.onchange = () => this.offerVerbs();
    this._verb.onchange = () => this.offerReason();
    this.node.append(
      this.label(`${id}-trial`, trans.__('Trial')),
      this._trial,
      this.label(`${id}-verb`, trans.__('Action')),
      this._verb,
      this.label(`${id}-reason`, trans.__('Reason')),
      this._reason
    );
    this.offerVerbs();
  }

  getValue(): ITrialEditRequest {
    return {
      trial: Number(this._trial.value),
      verb: this._verb.value as TrialVerb,
      reason: this._reason.value
    };
  }

  private label(target: string, text: string): HTMLLabelElement {
    const label = document.createElement('label');
    label.htmlFor = target;
    label.textContent = text;
    return label;
  }

  private offerVerbs(): void {
    const choice = this.choices.find(c => String(c.number) === this._trial.value);
    const words: Record<TrialVerb, string> = {
      discard: this.trans.__('Discard it (no best, total or sampler counts it)'),
      undo: this.trans.__('Take its discard back'),
      rerun: this.trans.__('Run its parameters again (one more trial)'),
      'rerun-discard': this.trans.__('Run it again in its place (discard it)')
    };
    this._verb.replaceChildren(
      ...(choice?.verbs ?? []).map(verb => new Option(words[verb], verb))
    );
    this.offerReason();
  }

  private offerReason(): void {
    const verb = this._verb.value as TrialVerb;
    this._reason.disabled = verb !== 'discard' && verb !== 'rerun-discard';
  }

  private readonly _trial = document.createElement('select');
  private readonly _verb = document.createElement('select');
  private readonly _reason = document.createElement('input');
}

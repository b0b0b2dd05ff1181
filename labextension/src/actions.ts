/**
 * What the sidebar's study buttons do. Every failure ends in a dialog or a notification;
 * none escapes to the panel.
 */
import {
  Clipboard,
  Dialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import type { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import type { AutomlClient } from './api';
import type { DashboardOpener } from './dashboard';
import { exportFormats, formatLabel, noFormatsText } from './exports';
import type { StudiesModel } from './model';
import type { IAutomlSettings } from './settings';
import type { Trans } from './trans';
import { editTrials } from './trialDialog';
import type { IExportFormat, IStudy, StudyAction } from './types';

export interface IStudyActionsOptions {
  client: AutomlClient;
  model: StudiesModel;
  dashboards: DashboardOpener;
  commands: CommandRegistry;
  trans: Trans;
  /** The settings as they are now (the Settings Editor changes them while Lab runs). */
  settings: () => IAutomlSettings;
}

export class StudyActions {
  constructor(private readonly options: IStudyActionsOptions) {}

  /** Runs a sidebar action; errors are shown, never thrown. */
  async run(action: StudyAction, study: IStudy): Promise<void> {
    try {
      await this.dispatch(action, study);
    } catch (error) {
      const { trans } = this.options;
      await showErrorMessage(actionFailed(action, trans), asError(error));
    }
  }

  private async dispatch(action: StudyAction, study: IStudy): Promise<void> {
    switch (action) {
      case 'dashboard':
        this.options.dashboards.open(study.id, study.name);
        return;
      case 'notebook':
        if (study.notebook) {
          await this.options.commands.execute('docmanager:open', { path: study.notebook });
        }
        return;
      case 'stop':
        return this.stop(study);
      case 'export':
        return this.export(study);
      case 'trials':
        if (await editTrials(this.options.client, study, this.options.trans)) {
          await this.options.model.refresh();
        }
        return;
      case 'copy':
        if (study.command) {
          Clipboard.copyToSystem(study.command);
          Notification.success(this.options.trans.__('Copied: %1', study.command), {
            autoClose: 3000
          });
        }
        return;
    }
  }

  private async stop(study: IStudy): Promise<void> {
    const { trans, settings } = this.options;
    if (settings().confirmStop) {
      const answer = await showDialog({
        title: trans.__('Stop the study %1?', study.name),
        body: trans.__(
          'Its finished trials are kept; the running ones are saved and retried when the study runs again.'
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Stop') })
        ]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    await this.options.client.stopStudy(study.id);
    Notification.info(trans.__('Stopping the study %1…', study.name), { autoClose: 4000 });
    await this.options.model.refresh();
  }

  private async export(study: IStudy): Promise<void> {
    const { trans, settings } = this.options;
    const title = trans.__('Export the best model of %1', study.name);
    const formats = await exportFormats(this.options.model);
    if (formats.length === 0) {
      await showDialog({
        title,
        body: noFormatsText(this.options.model, trans),
        buttons: [Dialog.okButton({ label: trans.__('Close') })]
      });
      return;
    }
    const answer = await showDialog<string>({
      title,
      body: new FormatPicker(formats, settings().defaultExportFormat, trans),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Export') })
      ],
      focusNodeSelector: 'select'
    });
    if (!answer.button.accept || !answer.value) {
      return;
    }
    const pending = Notification.emit(
      trans.__('Exporting %1 as %2…', study.name, formatLabel(formats, answer.value)),
      'in-progress',
      { autoClose: false }
    );
    try {
      const result = await this.options.client.exportStudy(study.id, answer.value);
      await showDialog({
        title: trans.__('Exported %1', study.name),
        body: new ExportResult(result.path, trans),
        buttons: [Dialog.okButton({ label: trans.__('Close') })]
      });
    } finally {
      Notification.dismiss(pending);
    }
  }
}

/** The error dialog's title when `action` failed. */
function actionFailed(action: StudyAction, trans: Trans): string {
  switch (action) {
    case 'dashboard':
      return trans.__('AutoML: opening the dashboard failed');
    case 'notebook':
      return trans.__('AutoML: opening the notebook failed');
    case 'stop':
      return trans.__('AutoML: stopping the study failed');
    case 'export':
      return trans.__('AutoML: exporting the model failed');
    case 'trials':
      return trans.__('AutoML: editing the trial failed');
    case 'copy':
      return trans.__('AutoML: copying the command failed');
  }
}

let pickerCount = 0;

/**
 * The export dialog's body: a labelled picker of the server's formats (its value: an id), the
 * settings' default format selected when the server offers it.
 */
class FormatPicker extends Widget implements Dialog.IBodyWidget<string> {
  constructor(formats: readonly IExportFormat[], preferred: string, trans: Trans) {
    super();
    this.addClass('jp-AutoML-formatPicker');
    const id = `jp-AutoML-format-${++pickerCount}`;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = trans.__('Format');
    this._select.id = id;
    this._select.className = 'jp-mod-styled';
    for (const format of formats) {
      this._select.appendChild(new Option(format.label, format.id));
    }
    if (formats.some(format => format.id === preferred)) {
      this._select.value = preferred;
    }
    this.node.append(label, this._select);
  }

  getValue(): string {
    return this._select.value;
  }

  private readonly _select = document.createElement('select');
}

/** The exported file's path, selectable so it can be copied. */
class ExportResult extends Widget {
  constructor(path: string, trans: Trans) {
    super();
    this.addClass('jp-AutoML-exportResult');
    const text = document.createElement('p');
    text.textContent = trans.__('The model was written to');
    const code = document.createElement('code');
    code.textContent = path;
    this.node.append(text, code);
  }
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

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
import type { IExportFormat, IStudy, StudyAction } from './types';

export interface IStudyActionsOptions {
  client: AutomlClient;
  model: StudiesModel;
  dashboards: DashboardOpener;
  commands: CommandRegistry;
}

export class StudyActions {
  constructor(private readonly options: IStudyActionsOptions) {}

  /** Runs a sidebar action; errors are shown, never thrown. */
  async run(action: StudyAction, study: IStudy): Promise<void> {
    try {
      await this.dispatch(action, study);
    } catch (error) {
      await showErrorMessage(`AutoML: ${ACTION_TITLES[action]} failed`, asError(error));
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
      case 'copy':
        if (study.command) {
          Clipboard.copyToSystem(study.command);
          Notification.success(`Copied: ${study.command}`, { autoClose: 3000 });
        }
        return;
    }
  }

  private async stop(study: IStudy): Promise<void> {
    const answer = await showDialog({
      title: `Stop the study ${study.name}?`,
      body:
        'Its finished trials are kept; the running ones are saved and retried when the ' +
        'study runs again.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
    });
    if (!answer.button.accept) {
      return;
    }
    await this.options.client.stopStudy(study.id);
    Notification.info(`Stopping the study ${study.name}…`, { autoClose: 4000 });
    await this.options.model.refresh();
  }

  private async export(study: IStudy): Promise<void> {
    const title = `Export the best model of ${study.name}`;
    const formats = await exportFormats(this.options.model);
    if (formats.length === 0) {
      await showDialog({
        title,
        body: noFormatsText(this.options.model),
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
      return;
    }
    const answer = await showDialog<string>({
      title,
      body: new FormatPicker(formats),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Export' })],
      focusNodeSelector: 'select'
    });
    if (!answer.button.accept || !answer.value) {
      return;
    }
    const pending = Notification.emit(
      `Exporting ${study.name} as ${formatLabel(formats, answer.value)}…`,
      'in-progress',
      { autoClose: false }
    );
    try {
      const result = await this.options.client.exportStudy(study.id, answer.value);
      await showDialog({
        title: `Exported ${study.name}`,
        body: new ExportResult(result.path),
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
    } finally {
      Notification.dismiss(pending);
    }
  }
}

const ACTION_TITLES: Record<StudyAction, string> = {
  dashboard: 'opening the dashboard',
  notebook: 'opening the notebook',
  stop: 'stopping the study',
  export: 'exporting the model',
  copy: 'copying the command'
};

let pickerCount = 0;

/** The export dialog's body: a labelled picker of the server's formats (its value: an id). */
class FormatPicker extends Widget implements Dialog.IBodyWidget<string> {
  constructor(formats: readonly IExportFormat[]) {
    super();
    this.addClass('jp-AutoML-formatPicker');
    const id = `jp-AutoML-format-${++pickerCount}`;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = 'Format';
    this._select.id = id;
    this._select.className = 'jp-mod-styled';
    for (const format of formats) {
      this._select.appendChild(new Option(format.label, format.id));
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
  constructor(path: string) {
    super();
    this.addClass('jp-AutoML-exportResult');
    const text = document.createElement('p');
    text.textContent = 'The model was written to';
    const code = document.createElement('code');
    code.textContent = path;
    this.node.append(text, code);
  }
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The notebook commands: insert a study cell, check it, edit its space, open its dashboard.
 * Option-line logic lives in cellmagic.ts; this module only connects it to the notebook.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { showErrorMessage, Notification } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { type INotebookTracker, NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import { OutputArea } from '@jupyterlab/outputarea';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { asError } from './actions';
import {
  isAutomlCell,
  newStudyCellSource,
  replacementSource,
  studyNameFromPath,
  studyNameOfCell,
  withFlag
} from './cellmagic';
import type { DashboardOpener } from './dashboard';
import { automlIcon } from './icons';
import type { StudiesModel } from './model';
import { dashboardStudyFor } from './status';

export namespace CommandIDs {
  export const newStudyCell = 'jupyter-automl:new-study-cell';
  export const checkCell = 'jupyter-automl:check-cell';
  export const editSpace = 'jupyter-automl:edit-space';
  export const openDashboard = 'jupyter-automl:open-dashboard';
}

const LOAD_EXT = '%load_ext jupyter_automl';

/** The commands that act on the active cell, for the cell context menu. */
export const CELL_COMMANDS = [
  CommandIDs.checkCell,
  CommandIDs.editSpace,
  CommandIDs.openDashboard
];

export interface ICommandsOptions {
  tracker: INotebookTracker;
  model: StudiesModel;
  dashboards: DashboardOpener;
}

export function addCommands(app: JupyterFrontEnd, options: ICommandsOptions): void {
  const { commands } = app;
  const { tracker } = options;

  commands.addCommand(CommandIDs.newStudyCell, {
    label: 'New AutoML study cell',
    caption: 'Insert an %%automl study cell below the active cell',
    icon: automlIcon,
    isEnabled: () => tracker.currentWidget !== null,
    execute: () => {
      const panel = tracker.currentWidget;
      if (panel) {
        insertStudyCell(panel);
      }
    }
  });

  for (const [id, flag, label, caption] of [
    [
      CommandIDs.checkCell,
      '--check',
      'Check this study cell',
      'Run one short trial of the active %%automl cell (--check); the study is not touched'
    ],
    [
      CommandIDs.editSpace,
      '--edit',
      'Edit search space',
      "Open the space builder on the active %%automl cell's hp calls (--edit)"
    ]
  ]) {
    commands.addCommand(id, {
      label,
      caption,
      isEnabled: () => activeStudyCell(tracker) !== null,
      execute: () => runWithFlag(tracker, flag)
    });
  }

  commands.addCommand(CommandIDs.openDashboard, {
    label: 'Open AutoML dashboard',
    caption: "Open the optuna-dashboard of the active cell's study (or of a running study)",
    icon: automlIcon,
    execute: args => openDashboard(options, args)
  });

  const refresh = (): void => {
    for (const id of [CommandIDs.newStudyCell, ...CELL_COMMANDS]) {
      commands.notifyCommandChanged(id);
    }
  };
  tracker.currentChanged.connect(refresh);
  tracker.activeCellChanged.connect(refresh);
}

function insertStudyCell(panel: NotebookPanel): void {
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  if (notebook.activeCell?.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  const name = studyNameFromPath(panel.context.path);
  notebook.activeCell?.model.sharedModel.setSource(newStudyCellSource(name));
}

/** The active cell when it is a code cell whose first line is `%%automl ...`. */
function activeStudyCell(tracker: INotebookTracker): CodeCell | null {
  const cell = tracker.activeCell;
  if (cell instanceof CodeCell && isAutomlCell(cell.model.sharedModel.getSource())) {
    return cell;
  }
  return null;
}

/**
 * Runs the active study cell with `flag` added, its outputs in the cell. The source stays as it
 * is, unless the run itself replaces it (`--edit`'s "Write to cell").
 */
async function runWithFlag(tracker: INotebookTracker, flag: string): Promise<void> {
  const panel = tracker.currentWidget;
  const cell = activeStudyCell(tracker);
  if (!panel || !cell) {
    return;
  }
  const code = withFlag(cell.model.sharedModel.getSource(), flag);
  // As CodeCell.execute does: the user runs the cell, so its outputs (the space builder's
  // widgets) are trusted and rendered rather than shown as text.
  cell.model.trusted = true;
  cell.outputHidden = false;
  cell.setPrompt('*');
  try {
    await panel.sessionContext.ready;
    const kernel = panel.sessionContext.session?.kernel;
    if (kernel) {
      // The cell needs the magic even before the notebook's `%load_ext` cell ran; loading an
      // extension twice is harmless, and silent leaves no output or history.
      await kernel.requestExecute({ code: LOAD_EXT, silent: true, store_history: false }).done;
    }
    const reply = await OutputArea.execute(code, cell.outputArea, panel.sessionContext);
    const source =
      reply?.content.status === 'ok' ? replacementSource(reply.content.payload) : null;
    if (source !== null && !cell.isDisposed) {
      cell.model.sharedModel.setSource(source);
    }
  } catch (error) {
    await showErrorMessage(`AutoML: running ${flag} failed`, asError(error));
  } finally {
    if (!cell.isDisposed) {
      cell.setPrompt(`${cell.model.executionCount ?? ''}`);
    }
  }
}

async function openDashboard(
  options: ICommandsOptions,
  args: ReadonlyPartialJSONObject
): Promise<void> {
  const { model, dashboards, tracker } = options;
  if (typeof args.id === 'string') {
    dashboards.open(args.id, typeof args.name === 'string' ? args.name : args.id);
    return;
  }
  await model.refresh();
  if (model.error !== null) {
    await showErrorMessage('AutoML: cannot list the studies', new Error(model.error));
    return;
  }
  const cell = activeStudyCell(tracker);
  const name = cell ? studyNameOfCell(cell.model.sharedModel.getSource()) : null;
  const study = dashboardStudyFor(model.studies, name, tracker.currentWidget?.context.path);
  if (study) {
    dashboards.open(study.id, study.name);
  } else {
    Notification.info(
      name === null
        ? 'No AutoML study is running.'
        : `No study named ${name} yet, and none is running: run the cell first.`,
      { autoClose: 5000 }
    );
  }
}

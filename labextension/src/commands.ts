/**
 * The commands: insert a study cell, check it, edit its space, open its dashboard, show the
 * sidebar. Where they appear (menus, cell context menu, notebook toolbar) is declared in
 * schema/plugin.json, as JupyterLab's own extensions declare theirs. Option-line logic lives in
 * cellmagic.ts; this module only connects it to the notebook.
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
import type { Trans } from './trans';

export namespace CommandIDs {
  export const newStudyCell = 'jupyter-automl:new-study-cell';
  export const checkCell = 'jupyter-automl:check-cell';
  export const editSpace = 'jupyter-automl:edit-space';
  export const openDashboard = 'jupyter-automl:open-dashboard';
  export const showSidebar = 'jupyter-automl:show-sidebar';
}

const LOAD_EXT = '%load_ext jupyter_automl';
/** Code, never translated: given to the translated sentences as `%1`. */
const MAGIC = '%%automl';

/** The commands that act on the active cell. */
export const CELL_COMMANDS = [
  CommandIDs.checkCell,
  CommandIDs.editSpace,
  CommandIDs.openDashboard
];

export interface ICommandsOptions {
  tracker: INotebookTracker;
  model: StudiesModel;
  dashboards: DashboardOpener;
  trans: Trans;
  /** The sidebar's widget id, for show-sidebar. */
  sidebarId: string;
}

export function addCommands(app: JupyterFrontEnd, options: ICommandsOptions): void {
  const { commands } = app;
  const { tracker, trans } = options;

  commands.addCommand(CommandIDs.newStudyCell, {
    // on the notebook toolbar, the icon alone (as JupyterLab's own toolbar commands do)
    label: args => (args.toolbar ? '' : trans.__('New AutoML study cell')),
    caption: trans.__('Insert an %1 study cell below the active cell', MAGIC),
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
      trans.__('Check this study cell'),
      trans.__(
        'Run one short trial of the active %1 cell (--check); the study is not touched',
        MAGIC
      )
    ],
    [
      CommandIDs.editSpace,
      '--edit',
      trans.__('Edit search space'),
      trans.__("Open the space builder on the active %1 cell's hp calls (--edit)", MAGIC)
    ]
  ]) {
    commands.addCommand(id, {
      label,
      caption,
      isEnabled: () => activeStudyCell(tracker) !== null,
      execute: () => runWithFlag(tracker, flag, trans)
    });
  }

  commands.addCommand(CommandIDs.openDashboard, {
    label: trans.__('Open AutoML dashboard'),
    caption: trans.__(
      "Open the optuna-dashboard of the active cell's study (or of a running study)"
    ),
    icon: automlIcon,
    execute: args => openDashboard(options, args)
  });

  commands.addCommand(CommandIDs.showSidebar, {
    label: trans.__('AutoML Studies'),
    caption: trans.__('Show the AutoML studies sidebar'),
    execute: () => app.shell.activateById(options.sidebarId)
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
async function runWithFlag(tracker: INotebookTracker, flag: string, trans: Trans): Promise<void> {
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
    await showErrorMessage(trans.__('AutoML: running %1 failed', flag), asError(error));
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
  const { model, dashboards, tracker, trans } = options;
  if (typeof args.id === 'string') {
    dashboards.open(args.id, typeof args.name === 'string' ? args.name : args.id);
    return;
  }
  await model.refresh();
  if (model.error !== null) {
    await showErrorMessage(trans.__('AutoML: cannot list the studies'), new Error(model.error));
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
        ? trans.__('No AutoML study is running.')
        : trans.__('No study named %1 yet, and none is running: run the cell first.', name),
      { autoClose: 5000 }
    );
  }
}

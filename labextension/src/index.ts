/**
 * jupyter-automl's JupyterLab plugin: the AutoML sidebar, the study-cell commands (palette,
 * notebook toolbar, cell context menu), dashboards in main-area tabs and a status bar item.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookTracker, type INotebookModel, type NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';
import type { IDisposable } from '@lumino/disposable';

import { StudyActions } from './actions';
import { addCommands, CELL_COMMANDS, CommandIDs } from './commands';
import { DashboardOpener } from './dashboard';
import { automlIcon } from './icons';
import { StudiesModel } from './model';
import { createClient, dashboardBase } from './server';
import { AutomlSidebar } from './sidebar';
import { AutomlStatus } from './statusbar';

const CATEGORY = 'AutoML';
const CELL_SELECTOR = '.jp-Notebook .jp-Cell';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-automl:plugin',
  description: 'AutoML studies sidebar, study-cell commands and status bar item.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null
  ): void => {
    const client = createClient();
    const model = new StudiesModel({ source: client });
    const dashboards = new DashboardOpener(app, dashboardBase());
    const actions = new StudyActions({ client, model, dashboards, commands: app.commands });

    addCommands(app, { tracker, model, dashboards });
    for (const command of [CommandIDs.newStudyCell, ...CELL_COMMANDS]) {
      palette?.addItem({ command, category: CATEGORY });
    }
    app.contextMenu.addItem({ type: 'separator', selector: CELL_SELECTOR, rank: 60 });
    CELL_COMMANDS.forEach((command, i) =>
      app.contextMenu.addItem({ command, selector: CELL_SELECTOR, rank: 60 + i / 10 })
    );
    app.docRegistry.addWidgetExtension('Notebook', new NewStudyButton(app.commands));

    const sidebar = new AutomlSidebar(model, actions);
    app.shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
      void restorer.restore(dashboards.tracker, {
        command: CommandIDs.openDashboard,
        args: widget => ({ id: widget.studyId, name: widget.studyName }),
        name: widget => widget.studyId
      });
    }

    if (statusBar) {
      const item = new AutomlStatus(model, tracker, study =>
        dashboards.open(study.id, study.name)
      );
      statusBar.registerStatusItem('jupyter-automl:status', {
        item,
        align: 'left',
        rank: 5,
        isActive: () => item.isActive,
        activeStateChanged: item.activeStateChanged
      });
    }

    notifyListingErrors(model);
  }
};

/** The notebook toolbar's "New AutoML study cell" button. */
class NewStudyButton implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private readonly commands: CommandRegistry) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new CommandToolbarButton({
      commands: this.commands,
      id: CommandIDs.newStudyCell,
      icon: automlIcon,
      label: ''
    });
    if (!panel.toolbar.insertAfter('cellType', 'automl-new-study', button)) {
      panel.toolbar.insertItem(10, 'automl-new-study', button);
    }
    return button;
  }
}

/** One notification when listing starts failing (the sidebar shows the error meanwhile). */
function notifyListingErrors(model: StudiesModel): void {
  let failing = false;
  model.changed.connect(() => {
    if (model.loading) {
      return;
    }
    if (model.error !== null && !failing) {
      Notification.error(`AutoML: cannot list the studies: ${model.error}`, {
        autoClose: 8000
      });
    }
    failing = model.error !== null;
  });
}

export default plugin;

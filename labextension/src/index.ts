/**
 * jupyter-automl's JupyterLab plugin: the AutoML sidebar, the study-cell commands, dashboards
 * in main-area tabs and a status bar item. Its settings, and where its commands appear (menus,
 * cell context menu, notebook toolbar), are in schema/plugin.json; its strings go through
 * JupyterLab's translator (domain `jupyter_automl`).
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { StudyActions } from './actions';
import { addCommands, CELL_COMMANDS, CommandIDs } from './commands';
import { DashboardOpener } from './dashboard';
import { StudiesModel } from './model';
import { createClient, dashboardBase } from './server';
import { DEFAULT_SETTINGS, type IAutomlSettings, readSettings } from './settings';
import { AutomlSidebar } from './sidebar';
import { AutomlStatus } from './statusbar';
import { DOMAIN, type Trans } from './trans';

const PLUGIN_ID = 'jupyter-automl:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'AutoML studies sidebar, study-cell commands and status bar item.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer, IStatusBar, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const settings: IAutomlSettings = { ...DEFAULT_SETTINGS };
    const client = createClient(trans);
    const model = new StudiesModel({ source: client });
    const dashboards = new DashboardOpener(app, dashboardBase(), trans);
    const actions = new StudyActions({
      client,
      model,
      dashboards,
      commands: app.commands,
      trans,
      settings: () => settings
    });

    const sidebar = new AutomlSidebar(model, actions, trans);
    addCommands(app, { tracker, model, dashboards, trans, sidebarId: sidebar.id });
    const category = trans.__('AutoML');
    for (const command of [CommandIDs.newStudyCell, ...CELL_COMMANDS, CommandIDs.showSidebar]) {
      palette?.addItem({ command, category });
    }

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
      const item = new AutomlStatus(model, tracker, trans, study =>
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

    notifyListingErrors(model, trans);
    if (settingRegistry) {
      void followSettings(settingRegistry, settings, model, trans);
    }
  }
};

/** Reads the settings now and again whenever they change (the Settings Editor saves). */
async function followSettings(
  registry: ISettingRegistry,
  settings: IAutomlSettings,
  model: StudiesModel,
  trans: Trans
): Promise<void> {
  let loaded: ISettingRegistry.ISettings;
  try {
    loaded = await registry.load(PLUGIN_ID);
  } catch (error) {
    Notification.warning(
      trans.__('AutoML: the settings could not be read, the defaults apply: %1', describe(error)),
      { autoClose: 8000 }
    );
    return;
  }
  const apply = (): void => {
    Object.assign(settings, readSettings(loaded.composite));
    model.setIntervals(settings.runningRefreshSeconds * 1000, settings.idleRefreshSeconds * 1000);
  };
  apply();
  loaded.changed.connect(apply);
}

/** A registry error: an `Error`, or the schema validator's list of errors. */
function describe(error: unknown): string {
  if (Array.isArray(error)) {
    return error.map(item => (item as { message?: string }).message ?? String(item)).join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}

/** One notification when listing starts failing (the sidebar shows the error meanwhile). */
function notifyListingErrors(model: StudiesModel, trans: Trans): void {
  let failing = false;
  model.changed.connect(() => {
    if (model.loading) {
      return;
    }
    if (model.error !== null && !failing) {
      Notification.error(trans.__('AutoML: cannot list the studies: %1', model.error), {
        autoClose: 8000
      });
    }
    failing = model.error !== null;
  });
}

export default plugin;

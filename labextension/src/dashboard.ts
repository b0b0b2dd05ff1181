/**
 * optuna-dashboard of a study in a main-area tab, one tab per study.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IFrame } from '@jupyterlab/ui-components';

import { dashboardUrl } from './api';
import { automlIcon } from './icons';
import type { Trans } from './trans';

/** The dashboard's page needs its scripts and same-origin API calls; forms and downloads too. */
const SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-forms',
  'allow-downloads',
  'allow-popups'
];

export class DashboardWidget extends MainAreaWidget<IFrame> {
  constructor(
    readonly studyId: string,
    readonly studyName: string,
    url: string,
    trans: Trans
  ) {
    const content = new IFrame({ sandbox: SANDBOX });
    content.url = url;
    content.node
      .querySelector('iframe')
      ?.setAttribute('title', trans.__('AutoML dashboard: %1', studyName));
    super({ content });
    this.id = `jupyter-automl-dashboard-${encodeURIComponent(studyId)}`;
    this.addClass('jp-AutoML-dashboard');
    this.title.label = trans.__('AutoML: %1', studyName);
    this.title.caption = trans.__('optuna-dashboard of %1', studyId);
    this.title.icon = automlIcon;
    this.title.closable = true;
  }
}

export class DashboardOpener {
  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly base: string,
    private readonly trans: Trans
  ) {}

  readonly tracker = new WidgetTracker<DashboardWidget>({
    namespace: 'jupyter-automl-dashboard'
  });

  /** Shows the study's dashboard, in its existing tab when there is one. */
  open(id: string, name: string): DashboardWidget {
    const existing = this.tracker.find(widget => widget.studyId === id);
    if (existing) {
      this.app.shell.activateById(existing.id);
      return existing;
    }
    const widget = new DashboardWidget(id, name, dashboardUrl(this.base, id), this.trans);
    this.app.shell.add(widget, 'main');
    void this.tracker.add(widget);
    this.app.shell.activateById(widget.id);
    return widget;
  }
}

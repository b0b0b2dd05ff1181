/**
 * The left sidebar "AutoML": the studies under the server root. It asks the model to poll only
 * while it is visible.
 */
import {
  copyIcon,
  downloadIcon,
  editIcon,
  launchIcon,
  notebookIcon,
  ReactWidget,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import React from 'react';

import type { StudyActions } from './actions';
import { type ActionIcons, StudiesView } from './components';
import { automlIcon } from './icons';
import type { StudiesModel } from './model';
import type { Trans } from './trans';

const icons: ActionIcons = {
  dashboard: <launchIcon.react tag="span" />,
  notebook: <notebookIcon.react tag="span" />,
  stop: <stopIcon.react tag="span" />,
  export: <downloadIcon.react tag="span" />,
  trials: <editIcon.react tag="span" />,
  copy: <copyIcon.react tag="span" />,
  refresh: <refreshIcon.react tag="span" />
};

export class AutomlSidebar extends ReactWidget {
  constructor(
    private readonly model: StudiesModel,
    private readonly actions: StudyActions,
    private readonly trans: Trans
  ) {
    super();
    this.id = 'jupyter-automl-sidebar';
    this.addClass('jp-AutoML-sidebar');
    this.title.icon = automlIcon;
    this.title.caption = trans.__('AutoML studies');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('AutoML studies'));
    model.changed.connect(this.update, this);
  }

  protected render(): React.ReactElement {
    return (
      <StudiesView
        listing={this.model.listing}
        error={this.model.error}
        loading={this.model.loading}
        now={Date.now()}
        icons={icons}
        onAction={(action, study) => void this.actions.run(action, study)}
        onRefresh={() => void this.model.refresh()}
        trans={this.trans}
      />
    );
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setDemand(this.id, this.isVisible);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setDemand(this.id, true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setDemand(this.id, false);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setDemand(this.id, false);
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.model.setDemand(this.id, false);
      this.model.changed.disconnect(this.update, this);
    }
    super.dispose();
  }
}

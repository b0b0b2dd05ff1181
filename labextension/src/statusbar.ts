/**
 * The status bar item: the active notebook's running study, `digits 12/40 · best 0.972`.
 * Clicking it (or Enter on it) opens the study's dashboard.
 */
import type { INotebookTracker } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { automlIcon } from './icons';

import type { StudiesModel } from './model';
import { runningStudyOf, statusText } from './status';
import type { Trans } from './trans';
import type { IStudy } from './types';

const DEMAND = 'jupyter-automl-status';

export class AutomlStatus extends Widget {
  constructor(
    private readonly model: StudiesModel,
    private readonly tracker: INotebookTracker,
    private readonly trans: Trans,
    private readonly openDashboard: (study: IStudy) => void
  ) {
    super();
    this.addClass('jp-AutoML-status');
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'button');
    this.node.addEventListener('click', this);
    this.node.addEventListener('keydown', this);
    this.node.append(
      automlIcon.element({ tag: 'span', className: 'jp-AutoML-statusIcon' }),
      this._text
    );
    model.changed.connect(this.refresh, this);
    tracker.currentChanged.connect(this.refresh, this);
    this.refresh();
  }

  /** Emitted when the item starts or stops having something to show. */
  readonly activeStateChanged = new Signal<this, void>(this);

  get isActive(): boolean {
    return this._study !== null;
  }

  handleEvent(event: Event): void {
    const key = (event as KeyboardEvent).key;
    if (event.type === 'click' || key === 'Enter' || key === ' ') {
      event.preventDefault();
      if (this._study) {
        this.openDashboard(this._study);
      }
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.setDemand(DEMAND, false);
    this.model.changed.disconnect(this.refresh, this);
    this.tracker.currentChanged.disconnect(this.refresh, this);
    super.dispose();
  }

  private refresh(): void {
    const path = this.tracker.currentWidget?.context.path ?? null;
    // The item needs the listing only while a notebook could show a study.
    this.model.setDemand(DEMAND, path !== null);
    const study = runningStudyOf(this.model.studies, path);
    const wasActive = this.isActive;
    this._study = study;
    if (study) {
      const { trans } = this;
      const text = statusText(study, trans);
      this._text.textContent = text;
      this.node.title = trans.__('AutoML study %1 is running: open its dashboard', study.name);
      this.node.setAttribute(
        'aria-label',
        trans.__('AutoML study running: %1. Open its dashboard', text)
      );
    }
    if (wasActive !== this.isActive) {
      this.activeStateChanged.emit();
    }
  }

  private _study: IStudy | null = null;
  private readonly _text = document.createElement('span');
}

/**
 * The sidebar's content: studies grouped by folder and notebook, each with its state, progress,
 * best value and actions. Rendering only; the widget (sidebar.tsx) owns data and actions, and
 * passes the icons in so this module renders without JupyterLab (tests use react-dom/server).
 */
import React from 'react';

import {
  absoluteTime,
  bestText,
  formatDone,
  progressSegments,
  progressText,
  relativeTime,
  stateText
} from './format';
import { basename, groupStudies } from './grouping';
import type { Trans } from './trans';
import type { IStudy, IStudyListing, StudyAction } from './types';

export type ActionIcons = Partial<Record<StudyAction | 'refresh', React.ReactElement>>;

export interface IStudiesViewProps {
  listing: IStudyListing | null;
  error: string | null;
  loading: boolean;
  /** Milliseconds since the epoch, for "5 s ago". */
  now: number;
  onAction: (action: StudyAction, study: IStudy) => void;
  onRefresh: () => void;
  icons?: ActionIcons;
  /** JupyterLab's translator (`english` in the tests). */
  trans: Trans;
}

/** An action button's label and tooltip, naming the study. */
function actionLabel(action: StudyAction, name: string, trans: Trans): string {
  switch (action) {
    case 'dashboard':
      return trans.__('Open the dashboard of %1', name);
    case 'notebook':
      return trans.__('Open the notebook of %1', name);
    case 'stop':
      return trans.__('Stop %1', name);
    case 'export':
      return trans.__('Export the best model of %1', name);
    case 'trials':
      return trans.__('Discard or rerun a trial of %1', name);
    case 'copy':
      return trans.__('Copy the command that runs %1', name);
  }
}

/** An action button's text, where no icon is given. */
function actionText(action: StudyAction, trans: Trans): string {
  switch (action) {
    case 'dashboard':
      return trans.__('Dashboard');
    case 'notebook':
      return trans.__('Notebook');
    case 'stop':
      return trans.__('Stop');
    case 'export':
      return trans.__('Export');
    case 'trials':
      return trans.__('Trials');
    case 'copy':
      return trans.__('Copy command');
  }
}

/** `text` with its `%1` replaced by `element` (a translated sentence around markup). */
function around(text: string, element: React.ReactElement): React.ReactElement {
  const [before, ...after] = text.split('%1');
  return (
    <>
      {before}
      {after.length > 0 && element}
      {after.join('%1')}
    </>
  );
}

/** The actions a study offers, in display order. */
export function studyActions(study: IStudy): StudyAction[] {
  const actions: StudyAction[] = ['dashboard'];
  if (study.notebook) {
    actions.push('notebook');
  }
  if (study.state === 'running') {
    actions.push('stop');
  }
  if (study.best_value !== null) {
    actions.push('export');
  }
  if (study.done + study.failed + (study.discarded ?? 0) > 0 && study.state !== 'unreadable') {
    actions.push('trials');
  }
  if (study.command) {
    actions.push('copy');
  }
  return actions;
}

export function StudiesView(props: IStudiesViewProps): React.ReactElement {
  const { error, loading, icons, trans } = props;
  return (
    <div className="jp-AutoML-panel">
      <div className="jp-AutoML-header">
        <h2 className="jp-AutoML-title">{trans.__('AutoML')}</h2>
        <button
          type="button"
          className="jp-AutoML-button jp-AutoML-refresh"
          aria-label={trans.__('Refresh the AutoML studies')}
          title={trans.__('Refresh')}
          aria-busy={loading}
          onClick={props.onRefresh}
        >
          {icons?.refresh ?? trans.__('Refresh')}
        </button>
      </div>
      {error !== null && (
        <div className="jp-AutoML-error" role="alert">
          {error}
        </div>
      )}
      <StudiesBody {...props} />
    </div>
  );
}

function StudiesBody(props: IStudiesViewProps): React.ReactElement | null {
  const { listing, error, trans } = props;
  if (listing === null) {
    return error === null ? (
      <p className="jp-AutoML-empty">{trans.__('Loading studies…')}</p>
    ) : null;
  }
  if (listing.studies.length === 0) {
    const text = trans.__(
      "No AutoML studies yet. Run an %1 cell (the notebook toolbar's AutoML button inserts one) and its study shows up here."
    );
    return <p className="jp-AutoML-empty">{around(text, <code>%%automl</code>)}</p>;
  }
  return (
    <div className="jp-AutoML-groups">
      {groupStudies(listing.studies).map(group => (
        <section
          key={group.folder}
          className="jp-AutoML-folder"
          aria-label={
            group.folder
              ? trans.__('Studies in %1', group.folder)
              : trans.__('Studies in the server root')
          }
        >
          <h3 className="jp-AutoML-folderName" title={group.folder}>
            {group.folder || '/'}
          </h3>
          {group.notebooks.map(nb => (
            <div key={nb.notebook ?? ''} className="jp-AutoML-notebook">
              <h4 className="jp-AutoML-notebookName" title={nb.notebook ?? undefined}>
                {nb.notebook === null ? trans.__('No notebook') : basename(nb.notebook)}
              </h4>
              <ul className="jp-AutoML-studies">
                {nb.studies.map(study => (
                  <StudyRow key={study.id} study={study} {...props} />
                ))}
              </ul>
            </div>
          ))}
        </section>
      ))}
    </div>
  );
}

function StudyRow(props: IStudiesViewProps & { study: IStudy }): React.ReactElement {
  const { study, now, icons, onAction, trans } = props;
  const best = bestText(study, trans);
  const updated = relativeTime(study.updated, now, trans);
  const state = stateText(study.state, trans);
  return (
    <li className="jp-AutoML-study" aria-label={trans.__('Study %1, %2', study.name, state)}>
      <div className="jp-AutoML-studyHead">
        <span className="jp-AutoML-studyName" title={study.id}>
          {study.name}
        </span>
        <span
          className={`jp-AutoML-badge jp-AutoML-badge-${study.state}`}
          title={study.error ?? undefined}
        >
          {state}
        </span>
      </div>
      <ProgressBar study={study} trans={trans} />
      <div className="jp-AutoML-progressText">{progressText(study, trans)}</div>
      {(best !== null || updated !== null) && (
        <div className="jp-AutoML-meta">
          {best !== null && <span className="jp-AutoML-best">{best}</span>}
          {updated !== null && (
            <span className="jp-AutoML-updated" title={absoluteTime(study.updated) ?? undefined}>
              {trans.__('updated %1', updated)}
            </span>
          )}
        </div>
      )}
      <div
        className="jp-AutoML-actions"
        role="group"
        aria-label={trans.__('Actions for %1', study.name)}
      >
        {studyActions(study).map(action => (
          <button
            key={action}
            type="button"
            className={`jp-AutoML-button jp-AutoML-action-${action}`}
            aria-label={actionLabel(action, study.name, trans)}
            title={actionLabel(action, study.name, trans)}
            onClick={() => onAction(action, study)}
          >
            {icons?.[action] ?? actionText(action, trans)}
          </button>
        ))}
      </div>
    </li>
  );
}

function ProgressBar({ study, trans }: { study: IStudy; trans: Trans }): React.ReactElement {
  const widths = progressSegments(study);
  const max = study.total ?? undefined;
  const segments = (['complete', 'pruned', 'failed', 'running'] as const).filter(
    kind => widths[kind] > 0
  );
  return (
    <div
      className="jp-AutoML-progress"
      role="progressbar"
      aria-label={trans.__('Trials of %1', study.name)}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={study.done}
      aria-valuetext={progressText(study, trans).replace(/ · /g, ', ')}
      title={trans._n('%2 trial', '%2 trials', study.total ?? study.done, formatDone(study))}
    >
      {segments.map(kind => (
        <span
          key={kind}
          className={`jp-AutoML-progress-${kind}`}
          style={{ width: `${widths[kind]}%` }}
        />
      ))}
    </div>
  );
}

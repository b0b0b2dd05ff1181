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
  relativeTime
} from './format';
import { basename, groupStudies } from './grouping';
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
}

const ACTION_LABELS: Record<StudyAction, string> = {
  dashboard: 'Open the dashboard of',
  notebook: 'Open the notebook of',
  stop: 'Stop',
  export: 'Export the best model of',
  trials: 'Discard or rerun a trial of',
  copy: 'Copy the command that runs'
};

const ACTION_TEXT: Record<StudyAction, string> = {
  dashboard: 'Dashboard',
  notebook: 'Notebook',
  stop: 'Stop',
  export: 'Export',
  trials: 'Trials',
  copy: 'Copy command'
};

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
  const { error, loading, icons } = props;
  return (
    <div className="jp-AutoML-panel">
      <div className="jp-AutoML-header">
        <h2 className="jp-AutoML-title">AutoML</h2>
        <button
          type="button"
          className="jp-AutoML-button jp-AutoML-refresh"
          aria-label="Refresh the AutoML studies"
          title="Refresh"
          aria-busy={loading}
          onClick={props.onRefresh}
        >
          {icons?.refresh ?? 'Refresh'}
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
  const { listing, error } = props;
  if (listing === null) {
    return error === null ? <p className="jp-AutoML-empty">Loading studies…</p> : null;
  }
  if (listing.studies.length === 0) {
    return (
      <p className="jp-AutoML-empty">
        No AutoML studies yet. Run an <code>%%automl</code> cell (the notebook toolbar&apos;s
        AutoML button inserts one) and its study shows up here.
      </p>
    );
  }
  return (
    <div className="jp-AutoML-groups">
      {groupStudies(listing.studies).map(group => (
        <section
          key={group.folder}
          className="jp-AutoML-folder"
          aria-label={`Studies in ${group.folder || 'the server root'}`}
        >
          <h3 className="jp-AutoML-folderName" title={group.folder}>
            {group.folder || '/'}
          </h3>
          {group.notebooks.map(nb => (
            <div key={nb.notebook ?? ''} className="jp-AutoML-notebook">
              <h4 className="jp-AutoML-notebookName" title={nb.notebook ?? undefined}>
                {nb.notebook === null ? 'No notebook' : basename(nb.notebook)}
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
  const { study, now, icons, onAction } = props;
  const best = bestText(study);
  const updated = relativeTime(study.updated, now);
  return (
    <li className="jp-AutoML-study" aria-label={`Study ${study.name}, ${study.state}`}>
      <div className="jp-AutoML-studyHead">
        <span className="jp-AutoML-studyName" title={study.id}>
          {study.name}
        </span>
        <span
          className={`jp-AutoML-badge jp-AutoML-badge-${study.state}`}
          title={study.error ?? undefined}
        >
          {study.state}
        </span>
      </div>
      <ProgressBar study={study} />
      <div className="jp-AutoML-progressText">{progressText(study)}</div>
      {(best !== null || updated !== null) && (
        <div className="jp-AutoML-meta">
          {best !== null && <span className="jp-AutoML-best">{best}</span>}
          {updated !== null && (
            <span className="jp-AutoML-updated" title={absoluteTime(study.updated) ?? undefined}>
              updated {updated}
            </span>
          )}
        </div>
      )}
      <div className="jp-AutoML-actions" role="group" aria-label={`Actions for ${study.name}`}>
        {studyActions(study).map(action => (
          <button
            key={action}
            type="button"
            className={`jp-AutoML-button jp-AutoML-action-${action}`}
            aria-label={`${ACTION_LABELS[action]} ${study.name}`}
            title={`${ACTION_LABELS[action]} ${study.name}`}
            onClick={() => onAction(action, study)}
          >
            {icons?.[action] ?? ACTION_TEXT[action]}
          </button>
        ))}
      </div>
    </li>
  );
}

function ProgressBar({ study }: { study: IStudy }): React.ReactElement {
  const widths = progressSegments(study);
  const max = study.total ?? undefined;
  const segments = (['complete', 'pruned', 'failed', 'running'] as const).filter(
    kind => widths[kind] > 0
  );
  return (
    <div
      className="jp-AutoML-progress"
      role="progressbar"
      aria-label={`Trials of ${study.name}`}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={study.done}
      aria-valuetext={`${progressText(study).replace(/ · /g, ', ')}`}
      title={`${formatDone(study)} trials`}
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

import React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { type IStudiesViewProps, StudiesView, studyActions } from '../components';
import { english } from '../trans';
import type { IStudyListing } from '../types';
import { formats, study } from './fixtures';

const NOW = Date.parse('2026-11-26T06:20:30Z');

function render(overrides: Partial<IStudiesViewProps>): string {
  const props: IStudiesViewProps = {
    listing: null,
    error: null,
    loading: false,
    now: NOW,
    onAction: () => undefined,
    onRefresh: () => undefined,
    trans: english,
    ...overrides
  };
  return renderToStaticMarkup(<StudiesView {...props} />);
}

function listing(...studies: ReturnType<typeof study>[]): IStudyListing {
  return { formats: formats(), studies };
}

describe('studyActions', () => {
  it('offers stop only while running, and what the study has', () => {
    expect(studyActions(study())).toEqual([
      'dashboard',
      'notebook',
      'stop',
      'export',
      'trials',
      'copy'
    ]);
    expect(
      studyActions(study({ state: 'finished', notebook: null, command: null, best_value: null }))
    ).toEqual(['dashboard', 'trials']);
  });

  it('offers the trials action once a trial has finished', () => {
    const fresh = { done: 0, failed: 0, best_value: null, notebook: null, command: null };
    expect(studyActions(study({ ...fresh, state: 'running' }))).toEqual(['dashboard', 'stop']);
    expect(studyActions(study({ ...fresh, failed: 1, state: 'failed' }))).toEqual([
      'dashboard',
      'trials'
    ]);
    // every finished trial discarded: the action stays, to take a discard back
    expect(studyActions(study({ ...fresh, discarded: 1, state: 'stopped' }))).toEqual([
      'dashboard',
      'trials'
    ]);
  });
});

describe('StudiesView', () => {
  it('says it is loading, then shows the empty state', () => {
    expect(render({})).toContain('Loading studies');
    const empty = render({ listing: listing() });
    expect(empty).toContain('No AutoML studies yet');
  });

  it('shows an error as an alert, keeping the last listing', () => {
    const html = render({ listing: listing(study()), error: 'HTTP 500' });
    expect(html).toContain('role="alert"');
    expect(html).toContain('HTTP 500');
    expect(html).toContain('digits');
  });

  it('renders a study row: badge, progress bar, best value, update time', () => {
    const html = render({ listing: listing(study()) });
    expect(html).toContain('notebooks/automl_runs');
    expect(html).toContain('01_quickstart.ipynb');
    expect(html).toContain('jp-AutoML-badge-running');
    expect(html).toMatch(
      /role="progressbar"[^>]*aria-valuemin="0" aria-valuemax="40" aria-valuenow="12"/
    );
    expect(html).toContain('aria-valuetext="12/40 trials, 2 pruned, 1 failed, 1 running"');
    expect(html).toContain('best val_accuracy 0.972 (max)');
    expect(html).toContain('updated 30 s ago');
  });

  it('leaves aria-valuemax out without a total', () => {
    const html = render({ listing: listing(study({ total: null })) });
    expect(html).toMatch(/role="progressbar"/);
    expect(html).not.toContain('aria-valuemax');
  });

  it('labels every action button with the study name', () => {
    const html = render({ listing: listing(study()) });
    for (const label of [
      'Open the dashboard of digits',
      'Open the notebook of digits',
      'Stop digits',
      'Export the best model of digits',
      'Discard or rerun a trial of digits',
      'Copy the command that runs digits',
      'Refresh the AutoML studies'
    ]) {
      expect(html).toContain(`aria-label="${label}"`);
    }
    expect(html.match(/<button type="button"/g)).toHaveLength(7);
  });

  it('uses the icons given for the buttons', () => {
    const html = render({
      listing: listing(study({ state: 'finished' })),
      icons: { dashboard: <i className="icon-dash" /> }
    });
    expect(html).toContain('<i class="icon-dash"></i>');
    expect(html).not.toContain('Stop digits');
  });

  it('groups studies of no notebook under "No notebook"', () => {
    const html = render({ listing: listing(study({ notebook: null })) });
    expect(html).toContain('No notebook');
    expect(html).not.toContain('Open the notebook of');
  });
});

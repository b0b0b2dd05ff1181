import { dashboardStudyFor, runningStudyOf, statusText } from '../status';
import { english } from '../trans';
import { study } from './fixtures';

const NB = 'notebooks/01_quickstart.ipynb';

describe('statusText', () => {
  it('shows name, done/total and the best value with 4 significant digits', () => {
    expect(statusText(study(), english)).toBe('digits 12/40 · best 0.972');
    expect(statusText(study({ best_value: 0.97222222 }), english)).toBe(
      'digits 12/40 · best 0.9722'
    );
  });

  it('omits a missing total and a missing best value', () => {
    expect(statusText(study({ total: null }), english)).toBe('digits 12 · best 0.972');
    expect(statusText(study({ best_value: null, done: 0 }), english)).toBe('digits 0/40');
  });
});

describe('runningStudyOf', () => {
  it("picks the notebook's running study, the latest updated of several", () => {
    const studies = [
      study({ id: 'a', state: 'finished' }),
      study({ id: 'b', updated: '2026-11-26T06:00:00Z' }),
      study({ id: 'c', updated: '2026-11-26T06:30:00Z' }),
      study({ id: 'd', notebook: 'other.ipynb', updated: '2026-11-27T00:00:00Z' })
    ];
    expect(runningStudyOf(studies, NB)?.id).toBe('c');
  });

  it('is null without a notebook or a running study', () => {
    expect(runningStudyOf([study()], null)).toBeNull();
    expect(runningStudyOf([study({ state: 'stopped' })], NB)).toBeNull();
    expect(runningStudyOf([study({ updated: null })], NB)?.id).toBe(study().id);
  });
});

describe('dashboardStudyFor', () => {
  const studies = [
    study({ id: 'x/runs/digits', notebook: 'x/other.ipynb', state: 'finished' }),
    study({ id: 'n/runs/digits', notebook: NB, state: 'finished' }),
    study({ id: 'n/runs/quad', name: 'quad', notebook: NB, state: 'running' })
  ];

  it('prefers the named study of the current notebook, then any of that name', () => {
    expect(dashboardStudyFor(studies, 'digits', NB)?.id).toBe('n/runs/digits');
    expect(dashboardStudyFor(studies, 'digits', 'elsewhere.ipynb')?.id).toBe('x/runs/digits');
  });

  it('falls back to the first running study, then to nothing', () => {
    expect(dashboardStudyFor(studies, 'unknown', NB)?.id).toBe('n/runs/quad');
    expect(dashboardStudyFor(studies, null, undefined)?.id).toBe('n/runs/quad');
    expect(dashboardStudyFor(studies.slice(0, 2), 'unknown', NB)).toBeNull();
  });
});

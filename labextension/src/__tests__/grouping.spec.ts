import { basename, groupStudies } from '../grouping';
import { study } from './fixtures';

describe('groupStudies', () => {
  it('groups by folder, then notebook, sorted, studies of no notebook last', () => {
    const studies = [
      study({ id: 'b/runs/z', name: 'z', folder: 'b/runs', notebook: 'b/two.ipynb' }),
      study({ id: 'a/runs/cli', name: 'cli', folder: 'a/runs', notebook: null }),
      study({ id: 'a/runs/y', name: 'y', folder: 'a/runs', notebook: 'a/one.ipynb' }),
      study({ id: 'a/runs/x', name: 'x', folder: 'a/runs', notebook: 'a/one.ipynb' }),
      study({ id: 'a/runs/w', name: 'w', folder: 'a/runs', notebook: 'a/zero.ipynb' })
    ];
    const groups = groupStudies(studies);
    expect(
      groups.map(g => [g.folder, g.notebooks.map(n => [n.notebook, n.studies.map(s => s.name)])])
    ).toEqual([
      [
        'a/runs',
        [
          ['a/one.ipynb', ['x', 'y']],
          ['a/zero.ipynb', ['w']],
          [null, ['cli']]
        ]
      ],
      ['b/runs', [['b/two.ipynb', ['z']]]]
    ]);
  });

  it('returns nothing for no studies and does not reorder its input', () => {
    expect(groupStudies([])).toEqual([]);
    const input = [study({ id: 'r/b', name: 'b' }), study({ id: 'r/a', name: 'a' })];
    groupStudies(input);
    expect(input.map(s => s.name)).toEqual(['b', 'a']);
  });

  it('keeps studies of the same name apart by id', () => {
    const input = [study({ id: 'r/2', name: 'same' }), study({ id: 'r/1', name: 'same' })];
    expect(groupStudies(input)[0].notebooks[0].studies.map(s => s.id)).toEqual(['r/1', 'r/2']);
  });
});

describe('basename', () => {
  it('takes the last segment', () => {
    expect(basename('notebooks/01_quickstart.ipynb')).toBe('01_quickstart.ipynb');
    expect(basename('top.ipynb')).toBe('top.ipynb');
    expect(basename('a/b/')).toBe('b');
  });
});

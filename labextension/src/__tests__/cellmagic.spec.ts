import {
  isAutomlCell,
  magicLine,
  newStudyCellSource,
  replacementSource,
  splitOptionLine,
  studyNameFromLine,
  studyNameFromPath,
  studyNameOfCell,
  withFlag
} from '../cellmagic';

describe('isAutomlCell', () => {
  it.each([
    ['%%automl digits --trials 40\nx = 1', true],
    ['%%automl\nx = hp.float("x", 0, 1)', true],
    ['\n  \n%%automl quad\n(x - 2) ** 2', true],
    ['%%automl\t digits', true],
    ['%%automl_setup\nimport numpy', false],
    ['%automl list', false],
    ['# %%automl digits', false],
    ['x = 1\n%%automl digits', false],
    ['', false]
  ])('%j → %p', (source, expected) => {
    expect(isAutomlCell(source)).toBe(expected);
  });

  it('finds the magic line', () => {
    expect(magicLine('\n%%automl digits  \nbody')).toBe('%%automl digits');
    expect(magicLine('print(1)')).toBeNull();
  });
});

describe('studyNameFromLine', () => {
  it.each([
    ['%%automl digits --trials 40 --maximize val_accuracy', 'digits'],
    ['%%automl', 'automl'],
    ['%%automl --trials 20', 'automl'],
    ['%%automl --trials 20 --maximize val_accuracy mnist', 'mnist'],
    ['%%automl --check mnist', 'mnist'],
    ['%%automl --fresh --background --edit cifar.v2', 'cifar.v2'],
    ['%%automl --trials=20 quad', 'quad'],
    ['%%automl --storage "sqlite:///a b.db" named', 'named'],
    ['%%automl "quoted-name" --trials 3', 'quoted-name'],
    ['%%automl --trials {n_trials} {study}', '{study}']
  ])('%s → %s', (line, name) => {
    expect(studyNameFromLine(line)).toBe(name);
  });

  it('reads it from a cell, or null for another cell', () => {
    expect(studyNameOfCell('%%automl digits\nbody')).toBe('digits');
    expect(studyNameOfCell('%%automl_setup\nbody')).toBeNull();
  });

  it('splits quotes like a shell', () => {
    expect(splitOptionLine(`a "b c" 'd e'  f`)).toEqual(['a', 'b c', 'd e', 'f']);
  });
});

describe('withFlag', () => {
  const source = '%%automl digits --trials 40\nmodel.fit(x, y)\n';

  it('appends the flag to the magic line only', () => {
    expect(withFlag(source, '--check')).toBe(
      '%%automl digits --trials 40 --check\nmodel.fit(x, y)\n'
    );
    expect(withFlag('%%automl  \nx', '--edit')).toBe('%%automl --edit\nx');
  });

  it('keeps leading blank lines and a flag already there', () => {
    expect(withFlag('\n%%automl d --check\nx', '--check')).toBe('\n%%automl d --check\nx');
    expect(withFlag('\n%%automl d\nx', '--edit')).toBe('\n%%automl d --edit\nx');
  });

  it('refuses other cells', () => {
    expect(() => withFlag('%%automl_setup\nx', '--check')).toThrow('not an %%automl cell');
  });
});

describe('studyNameFromPath', () => {
  it.each([
    ['notebooks/01_quickstart.ipynb', '01_quickstart'],
    ['My Experiment (v2).ipynb', 'my_experiment__v2_'],
    ['deep/dir/MNIST-CNN.IPYNB', 'mnist-cnn'],
    ['_private.ipynb', 'private'],
    ['__.ipynb', 'study'],
    ['Ünïcode.ipynb', 'n_code'],
    ['.hidden.ipynb', 'hidden'],
    ['', 'study'],
    [null, 'study']
  ])('%p → %s', (path, name) => {
    expect(studyNameFromPath(path)).toBe(name);
  });

  it('keeps names within the 100 characters the engine accepts', () => {
    const name = studyNameFromPath(`${'a'.repeat(150)}.ipynb`);
    expect(name).toHaveLength(100);
    expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/);
  });
});

describe('newStudyCellSource', () => {
  const source = newStudyCellSource('digits');

  it('starts with the option line and is itself a study cell', () => {
    expect(source.split('\n')[0]).toBe('%%automl digits --trials 20 --maximize val_accuracy');
    expect(isAutomlCell(source)).toBe(true);
    expect(studyNameOfCell(source)).toBe('digits');
  });

  it('is a small Keras template with hp.int and hp.float on x_train, y_train', () => {
    expect(source).toContain('hp.int(');
    expect(source).toContain('hp.float(');
    expect(source).toContain('model.fit(x_train, y_train, validation_split=0.2');
  });
});

describe('replacementSource', () => {
  it("takes set_next_input's text when it replaces the cell", () => {
    const payload = [
      { source: 'page', data: {} },
      { source: 'set_next_input', text: '%%automl d\nx = 1', replace: true }
    ];
    expect(replacementSource(payload)).toBe('%%automl d\nx = 1');
  });

  it('ignores other payloads, a new-cell set_next_input and nothing', () => {
    expect(
      replacementSource([{ source: 'set_next_input', text: 'x', replace: false }])
    ).toBeNull();
    expect(replacementSource([{ source: 'page' }, null, 'junk'])).toBeNull();
    expect(replacementSource(undefined)).toBeNull();
  });
});

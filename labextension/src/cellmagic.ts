/**
 * The `%%automl` option line as the front end needs it: is a cell a study cell, which study
 * does it name, the same cell with `--check` or `--edit`, and the new-cell template.
 */

export const DEFAULT_STUDY = 'automl';
const MAGIC = '%%automl';
/** The options of `%%automl` that take no value (engine/_options.py); every other takes one. */
const FLAGS = new Set(['--fresh', '--check', '--edit', '--background']);
const NAME_MAX = 100;

interface IMagicLine {
  /** Index of the magic line among the cell's lines (IPython skips leading blank lines). */
  index: number;
  lines: string[];
}

function findMagicLine(source: string): IMagicLine | null {
  const lines = source.split('\n');
  const index = lines.findIndex(line => line.trim().length > 0);
  if (index < 0) {
    return null;
  }
  const line = lines[index].trim();
  const rest = line.slice(MAGIC.length);
  if (!line.startsWith(MAGIC) || (rest.length > 0 && !/^\s/.test(rest))) {
    return null;
  }
  return { index, lines };
}

/** Whether the cell runs `%%automl` (and not `%%automl_setup` or another magic). */
export function isAutomlCell(source: string): boolean {
  return findMagicLine(source) !== null;
}

/** The `%%automl ...` line of a study cell, or null. */
export function magicLine(source: string): string | null {
  const found = findMagicLine(source);
  return found ? found.lines[found.index].trim() : null;
}

/** Splits an option line like a shell does, enough for names and options (quotes, no escapes). */
export function splitOptionLine(line: string): string[] {
  const tokens: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(line)) !== null) {
    tokens.push(match[1] ?? match[2] ?? match[3]);
  }
  return tokens;
}

/** The study a `%%automl` line names: its first positional argument, default `automl`. */
export function studyNameFromLine(line: string): string {
  const tokens = splitOptionLine(line);
  let i = tokens[0] === MAGIC ? 1 : 0;
  while (i < tokens.length) {
    const token = tokens[i];
    if (!token.startsWith('-')) {
      return token;
    }
    const takesValue = token.startsWith('--') && !token.includes('=') && !FLAGS.has(token);
    i += takesValue ? 2 : 1;
  }
  return DEFAULT_STUDY;
}

/** The study name of a cell's source, or null when it is no study cell. */
export function studyNameOfCell(source: string): string | null {
  const line = magicLine(source);
  return line === null ? null : studyNameFromLine(line);
}

/**
 * The cell's code with `flag` (`--check`, `--edit`) appended to its `%%automl` line; the
 * source itself is never changed. A line that already has the flag is left as it is.
 */
export function withFlag(source: string, flag: string): string {
  const found = findMagicLine(source);
  if (!found) {
    throw new Error('not an %%automl cell');
  }
  const { index, lines } = found;
  const line = lines[index].trimEnd();
  if (!splitOptionLine(line).includes(flag)) {
    lines[index] = `${line} ${flag}`;
  }
  return lines.join('\n');
}

/**
 * A study name from a notebook path: its file name without `.ipynb`, lower-case, characters
 * other than `A-Za-z0-9_.-` as `_`, starting with a letter or digit (engine/_options.py's rule).
 */
export function studyNameFromPath(path: string | null | undefined): string {
  const file = (path ?? '').split('/').pop() ?? '';
  const stem = file.replace(/\.ipynb$/i, '');
  const slug = stem
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '_')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, NAME_MAX);
  return slug || 'study';
}

/** The source of a new study cell: the option line and a small Keras model on x_train/y_train. */
export function newStudyCellSource(name: string): string {
  return [
    `${MAGIC} ${name} --trials 20 --maximize val_accuracy`,
    '# x_train, y_train: your training data, defined in an earlier cell',
    'units = hp.int("units", 16, 256, log=True)',
    'dropout = hp.float("dropout", 0.0, 0.5)',
    'learning_rate = hp.float("learning_rate", 1e-4, 1e-2, log=True)',
    'model = keras.Sequential([',
    '    keras.Input(x_train.shape[1:]),',
    '    keras.layers.Flatten(),',
    '    keras.layers.Dense(units, activation="relu"),',
    '    keras.layers.Dropout(dropout),',
    '    keras.layers.Dense(int(y_train.max()) + 1, activation="softmax"),',
    '])',
    'model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",',
    '              metrics=["accuracy"])',
    'model.fit(x_train, y_train, validation_split=0.2, epochs=10)'
  ].join('\n');
}

/**
 * The new source a run asks for: `--edit`'s "Write to cell" answers with IPython's
 * `set_next_input(text, replace=True)` payload (as `%load` does). Null when there is none.
 */
export function replacementSource(payload: readonly unknown[] | undefined): string | null {
  for (const item of payload ?? []) {
    const entry = item as { source?: unknown; text?: unknown; replace?: unknown };
    if (entry?.source === 'set_next_input' && entry.replace && typeof entry.text === 'string') {
      return entry.text;
    }
  }
  return null;
}

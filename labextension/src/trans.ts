/**
 * The translator's calls the extension makes, and English as written for callers without
 * JupyterLab (the pure modules' tests). Every string a person reads goes through one of them:
 * `trans.__('Stop %1', name)`, `trans._n('%1 trial', '%1 trials', n)` (placeholders as in
 * JupyterLab's gettext: `%1`, `%2`...; in `_n`, `%1` is the count).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

/** The part of JupyterLab's `TranslationBundle` the extension uses. */
export type Trans = Pick<TranslationBundle, '__' | '_n'>;

/** The translation domain: `translator.load(DOMAIN)`. */
export const DOMAIN = 'jupyter_automl';

/** `%1`, `%2`... replaced by `args`, as JupyterLab's `Gettext.strfmt` does. */
export function interpolate(text: string, args: readonly unknown[]): string {
  return text
    .replace(/%%/g, '%% ')
    .replace(/%(\d+)/g, (_match, index: string) => String(args[Number(index) - 1]))
    .replace(/%% /g, '%');
}

/** The strings untranslated (JupyterLab's `nullTranslator` says the same). */
export const english: Trans = {
  __: (msgid: string, ...args: unknown[]) => interpolate(msgid, args),
  _n: (singular: string, plural: string, n: number, ...args: unknown[]) =>
    interpolate(n === 1 ? singular : plural, [n, ...args])
};

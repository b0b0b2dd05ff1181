/**
 * The export dialog's choices: the formats the server lists with the studies (its format
 * table, ids and labels), never a copy kept here. Pure, so it is tested alone.
 */
import type { Trans } from './trans';
import type { IExportFormat, IStudyListing } from './types';

/** Where the choices come from: the studies model (or a stand-in in the tests). */
export interface IListingSource {
  readonly listing: IStudyListing | null;
  readonly error: string | null;
  refresh(): Promise<void>;
}

/** The listing's formats; the listing is fetched first when none has arrived yet. */
export async function exportFormats(source: IListingSource): Promise<readonly IExportFormat[]> {
  if (source.listing === null) {
    await source.refresh();
  }
  return source.listing?.formats ?? [];
}

/** What the dialog says when there is nothing to choose from, and why. */
export function noFormatsText(source: IListingSource, trans: Trans): string {
  if (source.listing === null) {
    return trans.__(
      'The studies could not be listed (%1), so the export formats are not known: try again once the sidebar shows the studies.',
      source.error ?? trans.__('no answer')
    );
  }
  return trans.__(
    'The server offers no export format: its jupyter-automl listed none. Check that the server runs the same jupyter-automl version as this JupyterLab extension.'
  );
}

/** The label of format `id`, or the id itself when the listing does not name it. */
export function formatLabel(formats: readonly IExportFormat[], id: string): string {
  return formats.find(format => format.id === id)?.label ?? id;
}

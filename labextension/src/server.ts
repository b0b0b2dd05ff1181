/**
 * The URLs and transport of the server extension, from the page's configuration.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { AutomlClient } from './api';
import type { Trans } from './trans';

/** A client whose requests carry the token and, for POST, the XSRF header. */
export function createClient(trans: Trans): AutomlClient {
  const settings = ServerConnection.makeSettings();
  const base = URLExt.join(PageConfig.getBaseUrl(), 'jupyter-automl/api/');
  return new AutomlClient(
    base,
    (url, init) => ServerConnection.makeRequest(url, init, settings),
    trans
  );
}

/** Where optuna-dashboard pages are served: `<base>/jupyter-automl/dashboard/<id>/`. */
export function dashboardBase(): string {
  return URLExt.join(PageConfig.getBaseUrl(), 'jupyter-automl/dashboard/');
}

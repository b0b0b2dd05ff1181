/**
 * The REST client of the server extension.
 *
 * The transport is injected (`Fetcher`): the plugin passes one built on
 * `ServerConnection.makeRequest` (token and XSRF header), the tests a fake.
 */
import { english, type Trans } from './trans';
import type { IExportResult, IStudyDetail, IStudyListing, ITrialEditResult } from './types';

/** Sends one request to a full URL. */
export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/** A failed API call: the HTTP status (0 when no response came) and the server's message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The study id as a URL path: each segment encoded, the slashes kept. */
export function encodeStudyId(id: string): string {
  return id
    .split('/')
    .filter(segment => segment.length > 0)
    .map(encodeURIComponent)
    .join('/');
}

/** `base` with exactly one trailing slash. */
export function withTrailingSlash(base: string): string {
  return base.replace(/\/+$/, '') + '/';
}

/** The optuna-dashboard page of a study, under the dashboard base URL. */
export function dashboardUrl(dashboardBase: string, id: string): string {
  return `${withTrailingSlash(dashboardBase)}${encodeStudyId(id)}/`;
}

export class AutomlClient {
  /**
   * @param apiBase - the API root, `<base_url>/jupyter-automl/api/`
   * @param fetcher - the transport
   * @param trans - the translator of its error messages
   */
  constructor(
    apiBase: string,
    private readonly fetcher: Fetcher,
    private readonly trans: Trans = english
  ) {
    this.apiBase = withTrailingSlash(apiBase);
  }

  readonly apiBase: string;

  listStudies(): Promise<IStudyListing> {
    return this.call<IStudyListing>('studies', { method: 'GET' });
  }

  getStudy(id: string): Promise<IStudyDetail> {
    return this.call<IStudyDetail>(`studies/${encodeStudyId(id)}`, {
      method: 'GET'
    });
  }

  /** Asks a running study to stop; resolves once the server accepted (202). */
  async stopStudy(id: string): Promise<void> {
    await this.call(`studies/${encodeStudyId(id)}/stop`, { method: 'POST' });
  }

  exportStudy(id: string, format: string): Promise<IExportResult> {
    return this.call<IExportResult>(`studies/${encodeStudyId(id)}/export`, {
      method: 'POST',
      body: JSON.stringify({ format }),
      headers: { 'Content-Type': 'application/json' }
    });
  }

  /** Discards trial `trial` (`%automl discard`), or takes its discard back (`undo`). */
  discardTrial(
    id: string,
    trial: number,
    options: { reason?: string; undo?: boolean }
  ): Promise<ITrialEditResult> {
    return this.post<ITrialEditResult>(
      `studies/${encodeStudyId(id)}/trials/${trial}/discard`,
      options
    );
  }

  /** Queues trial `trial`'s parameters to run again (`%automl rerun`). */
  rerunTrial(
    id: string,
    trial: number,
    options: { discard?: boolean; reason?: string }
  ): Promise<ITrialEditResult> {
    return this.post<ITrialEditResult>(
      `studies/${encodeStudyId(id)}/trials/${trial}/rerun`,
      options
    );
  }

  private post<T>(path: string, body: object): Promise<T> {
    return this.call<T>(path, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    });
  }

  private async call<T>(path: string, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await this.fetcher(this.apiBase + path, init);
    } catch (error) {
      throw new ApiError(this.trans.__('Cannot reach the AutoML server: %1', describe(error)), 0);
    }
    const text = await response.text();
    const data = parseJson(text);
    if (!response.ok) {
      throw new ApiError(errorMessage(response, data, text, this.trans), response.status);
    }
    if (data === undefined) {
      throw new ApiError(this.trans.__('Invalid JSON from %1', path), response.status);
    }
    return data as T;
  }
}

function parseJson(text: string): unknown {
  if (!text) {
    return {};
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorMessage(response: Response, data: unknown, text: string, trans: Trans): string {
  if (data && typeof data === 'object' && 'message' in data) {
    const message = data.message;
    if (typeof message === 'string' && message) {
      return message;
    }
  }
  if (response.status === 404 && data === undefined) {
    return trans.__(
      'The AutoML server extension is not available (404): is jupyter_automl enabled on the server?'
    );
  }
  const reason = response.statusText || (data === undefined ? text.slice(0, 200) : '');
  return `HTTP ${response.status}${reason ? `: ${reason}` : ''}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

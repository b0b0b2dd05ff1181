import { ApiError, AutomlClient, dashboardUrl, encodeStudyId, type Fetcher } from '../api';
import { formats, study } from './fixtures';

const BASE = 'http://localhost:8888/lab-base/jupyter-automl/api/';

/** A fake server: records the calls, answers with the given status and body. */
function fakeServer(status: number, body: unknown, statusText = '') {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetcher: Fetcher = (url, init) => {
    calls.push({ url, init });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return Promise.resolve(new Response(text, { status, statusText }));
  };
  return { calls, client: new AutomlClient(BASE, fetcher) };
}

describe('URLs', () => {
  it('encodes each segment of a study id and keeps the slashes', () => {
    expect(encodeStudyId('notebooks/automl_runs/digits')).toBe('notebooks/automl_runs/digits');
    expect(encodeStudyId('my runs/a#b?c')).toBe('my%20runs/a%23b%3Fc');
  });

  it('builds the dashboard URL with a trailing slash', () => {
    expect(dashboardUrl('/base/jupyter-automl/dashboard/', 'n/runs/my study')).toBe(
      '/base/jupyter-automl/dashboard/n/runs/my%20study/'
    );
    expect(dashboardUrl('/jupyter-automl/dashboard', 'd')).toBe('/jupyter-automl/dashboard/d/');
  });
});

describe('AutomlClient', () => {
  it('lists the studies', async () => {
    const listing = { formats: formats('keras', 'tflite-quant'), studies: [study()] };
    const { calls, client } = fakeServer(200, listing);
    await expect(client.listStudies()).resolves.toEqual(listing);
    expect(calls).toEqual([{ url: `${BASE}studies`, init: { method: 'GET' } }]);
  });

  it('reads one study under its encoded id', async () => {
    const { calls, client } = fakeServer(200, { study: study(), columns: [], trials: [] });
    await client.getStudy('a b/digits');
    expect(calls[0].url).toBe(`${BASE}studies/a%20b/digits`);
  });

  it('posts stop and export', async () => {
    const stop = fakeServer(202, { stopping: true });
    await expect(stop.client.stopStudy('n/runs/digits')).resolves.toBeUndefined();
    expect(stop.calls[0]).toEqual({
      url: `${BASE}studies/n/runs/digits/stop`,
      init: { method: 'POST' }
    });

    const path = 'n/runs/digits/export/model.keras';
    const exported = fakeServer(200, { path });
    await expect(exported.client.exportStudy('n/runs/digits', 'keras')).resolves.toEqual({ path });
    const { url, init } = exported.calls[0];
    expect(url).toBe(`${BASE}studies/n/runs/digits/export`);
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ format: 'keras' });
  });

  it("raises the server's message with the status", async () => {
    const { client } = fakeServer(409, { message: 'digits is not running' });
    const error = await client.stopStudy('n/runs/digits').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, message: 'digits is not running' });
  });

  it('explains a 404 page: the server extension is missing', async () => {
    const { client } = fakeServer(404, '<html>404 Not Found</html>', 'Not Found');
    await expect(client.listStudies()).rejects.toThrow(/server extension is not available/);
  });

  it('falls back to the HTTP status without a message', async () => {
    const { client } = fakeServer(500, {}, 'Internal Server Error');
    await expect(client.listStudies()).rejects.toThrow('HTTP 500: Internal Server Error');
  });

  it('rejects a body that is not JSON', async () => {
    const { client } = fakeServer(200, 'not json');
    await expect(client.listStudies()).rejects.toThrow('Invalid JSON from studies');
  });

  it('reports a network failure as status 0', async () => {
    const client = new AutomlClient(BASE, () => Promise.reject(new TypeError('Failed to fetch')));
    await expect(client.listStudies()).rejects.toMatchObject({
      status: 0,
      message: 'Cannot reach the AutoML server: Failed to fetch'
    });
  });
});

import { StudiesModel } from '../model';
import type { IStudyListing } from '../types';
import { formats, study } from './fixtures';

const running: IStudyListing = { formats: formats(), studies: [study()] };
const idle: IStudyListing = { formats: formats(), studies: [study({ state: 'finished' })] };

/** A source answering with the listings (or errors) queued, the last one forever. */
function source(...answers: (IStudyListing | Error)[]) {
  const listStudies = jest.fn(() => {
    const answer = answers.length > 1 ? answers.shift()! : answers[0];
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  });
  return { listStudies };
}

/** Lets the fetch's promise chain settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('StudiesModel', () => {
  let hidden = false;
  const make = (src: ReturnType<typeof source>) =>
    new StudiesModel({ source: src, isPageHidden: () => hidden });

  beforeEach(() => {
    jest.useFakeTimers();
    hidden = false;
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('does not poll without demand', async () => {
    const src = source(running);
    const model = make(src);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(src.listStudies).not.toHaveBeenCalled();
    expect(model.listing).toBeNull();
    model.dispose();
  });

  it('polls every 2 s while a study runs, every 10 s otherwise', async () => {
    const src = source(running, running, idle);
    const model = make(src);
    model.setDemand('sidebar', true);
    await settle();
    expect(src.listStudies).toHaveBeenCalledTimes(1);
    expect(model.hasRunning).toBe(true);

    await jest.advanceTimersByTimeAsync(2000);
    expect(src.listStudies).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(2000);
    expect(src.listStudies).toHaveBeenCalledTimes(3);
    expect(model.hasRunning).toBe(false);

    await jest.advanceTimersByTimeAsync(9000);
    expect(src.listStudies).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(1000);
    expect(src.listStudies).toHaveBeenCalledTimes(4);
    model.dispose();
  });

  it('stops when the last consumer leaves and restarts at once when one comes back', async () => {
    const src = source(running);
    const model = make(src);
    model.setDemand('sidebar', true);
    model.setDemand('status', true);
    await settle();
    model.setDemand('sidebar', false);
    await jest.advanceTimersByTimeAsync(2000);
    expect(src.listStudies).toHaveBeenCalledTimes(2);

    model.setDemand('status', false);
    await jest.advanceTimersByTimeAsync(30_000);
    expect(src.listStudies).toHaveBeenCalledTimes(2);
    expect(model.isPolling).toBe(false);

    model.setDemand('sidebar', true);
    await settle();
    expect(src.listStudies).toHaveBeenCalledTimes(3);
    model.dispose();
  });

  it('keeps the last listing on an error, reports it, and slows down', async () => {
    const src = source(running, new Error('HTTP 500'), running);
    const model = make(src);
    const seen: (string | null)[] = [];
    model.changed.connect(() => {
      if (!model.loading) {
        seen.push(model.error);
      }
    });
    model.setDemand('sidebar', true);
    await settle();
    await jest.advanceTimersByTimeAsync(2000);
    expect(model.error).toBe('HTTP 500');
    expect(model.listing).toEqual(running);

    await jest.advanceTimersByTimeAsync(2000);
    expect(src.listStudies).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(8000);
    expect(src.listStudies).toHaveBeenCalledTimes(3);
    expect(model.error).toBeNull();
    expect(seen).toEqual([null, 'HTTP 500', null]);
    model.dispose();
  });

  it('joins a refresh under way', async () => {
    const src = source(idle);
    const model = make(src);
    const first = model.refresh();
    const second = model.refresh();
    expect(second).toBe(first);
    await first;
    expect(src.listStudies).toHaveBeenCalledTimes(1);
    expect(model.loading).toBe(false);
    model.dispose();
  });

  it('skips its ticks while the page is hidden', async () => {
    const src = source(running);
    const model = make(src);
    model.setDemand('sidebar', true);
    await settle();
    hidden = true;
    await jest.advanceTimersByTimeAsync(30_000);
    expect(src.listStudies).toHaveBeenCalledTimes(1);
    hidden = false;
    await jest.advanceTimersByTimeAsync(2000);
    expect(src.listStudies).toHaveBeenCalledTimes(2);
    model.dispose();
  });

  it('does nothing once disposed', async () => {
    const src = source(running);
    const model = make(src);
    model.setDemand('sidebar', true);
    model.dispose();
    await jest.advanceTimersByTimeAsync(30_000);
    expect(src.listStudies).toHaveBeenCalledTimes(1);
    model.setDemand('other', true);
    await model.refresh();
    expect(src.listStudies).toHaveBeenCalledTimes(1);
    expect(model.isDisposed).toBe(true);
  });
});

/**
 * The studies listing, polled while someone looks at it.
 *
 * Consumers (the sidebar while visible, the status bar while a notebook is open) declare
 * their demand; with none the model does not poll. It polls every 2 s while a study runs and
 * every 10 s otherwise (the settings change both, `setIntervals`), and skips its ticks while
 * the browser tab is hidden.
 */
import type { IDisposable } from '@lumino/disposable';
import { type ISignal, Signal } from '@lumino/signaling';

import type { IStudy, IStudyListing } from './types';

export interface IStudiesSource {
  listStudies(): Promise<IStudyListing>;
}

export interface IStudiesModelOptions {
  source: IStudiesSource;
  /** Milliseconds between polls while a study runs (default 2000). */
  runningInterval?: number;
  /** Milliseconds between polls otherwise, and after an error (default 10000). */
  idleInterval?: number;
  /** Whether the page is hidden (default: `document.visibilityState`). */
  isPageHidden?: () => boolean;
}

export class StudiesModel implements IDisposable {
  constructor(options: IStudiesModelOptions) {
    this._source = options.source;
    this._runningInterval = options.runningInterval ?? 2000;
    this._idleInterval = options.idleInterval ?? 10000;
    this._isPageHidden = options.isPageHidden ?? defaultPageHidden;
  }

  /** The last listing that arrived (kept across errors), or null before the first. */
  get listing(): IStudyListing | null {
    return this._listing;
  }

  get studies(): readonly IStudy[] {
    return this._listing?.studies ?? [];
  }

  /** The last refresh's error message, or null when it succeeded. */
  get error(): string | null {
    return this._error;
  }

  /** Whether a refresh is on its way. */
  get loading(): boolean {
    return this._pending !== null;
  }

  get hasRunning(): boolean {
    return this.studies.some(study => study.state === 'running');
  }

  /** Emitted after each refresh, successful or not, and when loading starts. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isPolling(): boolean {
    return this._demand.size > 0;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Declares (`on`) or withdraws a consumer's interest; polling runs while any has one. */
  setDemand(consumer: string, on: boolean): void {
    if (this._isDisposed || this._demand.has(consumer) === on) {
      return;
    }
    const wasPolling = this.isPolling;
    if (on) {
      this._demand.add(consumer);
    } else {
      this._demand.delete(consumer);
    }
    if (!wasPolling && this.isPolling) {
      void this.refresh();
    } else if (!this.isPolling) {
      this._clearTimer();
    }
  }

  /** New polling intervals (milliseconds), from the next poll on: a poll already scheduled
   * is scheduled again with them. */
  setIntervals(running: number, idle: number): void {
    this._runningInterval = running;
    this._idleInterval = idle;
    if (this._timer !== null) {
      this._schedule();
    }
  }

  /** Fetches the listing now (joining a fetch under way) and schedules the next poll. */
  refresh(): Promise<void> {
    if (this._pending) {
      return this._pending;
    }
    if (this._isDisposed) {
      return Promise.resolve();
    }
    this._clearTimer();
    this._pending = this._fetch().finally(() => {
      this._pending = null;
      if (!this._isDisposed) {
        this._changed.emit();
        this._schedule();
      }
    });
    this._changed.emit();
    return this._pending;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._clearTimer();
    this._demand.clear();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    try {
      this._listing = await this._source.listStudies();
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
  }

  private _schedule(): void {
    this._clearTimer();
    if (!this.isPolling) {
      return;
    }
    const fast = this.hasRunning && this._error === null;
    const delay = fast ? this._runningInterval : this._idleInterval;
    this._timer = setTimeout(() => this._tick(), delay);
  }

  private _tick(): void {
    this._timer = null;
    if (this._isPageHidden()) {
      this._schedule();
    } else {
      void this.refresh();
    }
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private readonly _source: IStudiesSource;
  private _runningInterval: number;
  private _idleInterval: number;
  private readonly _isPageHidden: () => boolean;
  private readonly _demand = new Set<string>();
  private readonly _changed = new Signal<this, void>(this);
  private _listing: IStudyListing | null = null;
  private _error: string | null = null;
  private _pending: Promise<void> | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _isDisposed = false;
}

function defaultPageHidden(): boolean {
  return typeof document !== 'undefined' && document.visibilityState === 'hidden';
}

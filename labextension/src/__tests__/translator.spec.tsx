/**
 * Every string a person reads goes through the translator: rendered with one that marks what
 * it translated, the sidebar's text and labels hold nothing else but the data it was given.
 */
import React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { type IStudiesViewProps, StudiesView } from '../components';
import { noFormatsText } from '../exports';
import { absoluteTime, bestText, progressText, relativeTime } from '../format';
import { statusText } from '../status';
import { english, type Trans } from '../trans';
import type { IStudy, IStudyListing } from '../types';
import { formats, study } from './fixtures';

/** Translates into English between ⟦ and ⟧. */
const marking: Trans = {
  __: (msgid: string, ...args: unknown[]) => `⟦${english.__(msgid, ...args)}⟧`,
  _n: (singular: string, plural: string, n: number, ...args: unknown[]) =>
    `⟦${english._n(singular, plural, n, ...args)}⟧`
};

/** What is left of `text` once the marked parts and the data are taken out. */
function untranslated(text: string, data: readonly string[]): string {
  let rest = text;
  for (let before = ''; before !== rest;) {
    before = rest;
    rest = rest.replace(/⟦[^⟦⟧]*⟧/g, ' '); // innermost marks first, then those around them
  }
  for (const value of [...data].sort((a, b) => b.length - a.length)) {
    rest = rest.split(value).join(' ');
  }
  // numbers, times, fractions and separators are no words
  return rest.replace(/[\s\d.,:/·%()+-]+/g, ' ').trim();
}

/** Text nodes and the attributes a person reads (labels, tooltips, value texts). */
function readable(html: string): string[] {
  const attributes = [
    ...html.matchAll(/ (?:aria-label|title|aria-valuetext|placeholder)="([^"]*)"/g)
  ];
  const texts = html
    .replace(/<code>[^<]*<\/code>/g, ' ') // code is code: %%automl
    .replace(/<[^>]*>/g, '\n')
    .split('\n');
  return [...attributes.map(match => match[1]), ...texts]
    .map(text =>
      text
        .replace(/&#x27;/g, "'")
        .replace(/&amp;/g, '&')
        .replace(/&quot;/g, '"')
    )
    .filter(text => text.trim() !== '');
}

/** What the server sent, and the browser's own date format: not for the translator. */
function data(s: IStudy): string[] {
  const when = absoluteTime(s.updated) ?? '';
  return [s.id, s.name, s.folder, s.notebook ?? '', s.metric ?? '', '01_quickstart.ipynb', when];
}

function render(overrides: Partial<IStudiesViewProps>): string {
  return renderToStaticMarkup(
    <StudiesView
      listing={null}
      error={null}
      loading={false}
      now={Date.parse('2026-11-26T06:20:30Z')}
      onAction={() => undefined}
      onRefresh={() => undefined}
      trans={marking}
      {...overrides}
    />
  );
}

const STUDIES = [
  study(),
  study({ id: 'a/b', name: 'b', folder: '', notebook: null, state: 'finished', running: 0 }),
  study({ id: 'c', name: 'c', state: 'unreadable', best_value: null, front: 2, updated: null }),
  study({ id: 'd', name: 'd', state: 'stopped', metric: null, direction: null, total: null }),
  study({ id: 'e', name: 'e', state: 'failed', updated: '2026-11-20T06:20:00Z' })
];

describe('the translator', () => {
  const listing: IStudyListing = { formats: formats(), studies: STUDIES };
  const known = STUDIES.flatMap(data);

  it.each([
    ['loading', {}],
    ['empty', { listing: { formats: formats(), studies: [] } }],
    ['studies', { listing }],
    ['studies, an error, refreshing', { listing, error: 'HTTP 500', loading: true }]
  ])('translates everything the sidebar shows (%s)', (_name, overrides) => {
    const html = render(overrides);
    const left = readable(html)
      .map(text => untranslated(text, [...known, 'HTTP 500']))
      .filter(text => text !== '');
    expect(left).toEqual([]);
    expect(html).toContain('⟦');
  });

  it('marks the words the pure modules make', () => {
    const s = study();
    for (const text of [
      progressText(s, marking),
      bestText(s, marking) ?? '',
      bestText(study({ front: 3 }), marking) ?? '',
      relativeTime(s.updated, Date.parse('2026-11-26T08:20:00Z'), marking) ?? '',
      statusText(s, marking),
      noFormatsText({ listing: null, error: null, refresh: () => Promise.resolve() }, marking)
    ]) {
      expect(untranslated(text, data(s))).toBe('');
    }
  });
});

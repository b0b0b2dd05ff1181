import { exportFormats, formatLabel, type IListingSource, noFormatsText } from '../exports';
import { english } from '../trans';
import type { IStudyListing } from '../types';
import { formats, study } from './fixtures';

/** A stand-in for the studies model: its listing, and what a refresh brings. */
class FakeSource implements IListingSource {
  constructor(
    public listing: IStudyListing | null,
    private readonly next?: IStudyListing | Error
  ) {}

  error: string | null = null;
  refreshes = 0;

  refresh(): Promise<void> {
    this.refreshes += 1;
    if (this.next instanceof Error) {
      this.error = this.next.message;
    } else if (this.next) {
      this.listing = this.next;
    }
    return Promise.resolve();
  }
}

function source(listing: IStudyListing | null, next?: IStudyListing | Error): FakeSource {
  return new FakeSource(listing, next);
}

describe('exportFormats', () => {
  it('offers the formats the server listed, ids and labels, in its order', async () => {
    const listed = formats('keras', 'savedmodel', 'tflite', 'tflite-quant');
    const src = source({ formats: listed, studies: [study()] });
    await expect(exportFormats(src)).resolves.toEqual(listed);
    expect(src.refreshes).toBe(0);
  });

  it('fetches the listing first when none has arrived', async () => {
    const listed = formats('keras', 'tflite-quant');
    const src = source(null, { formats: listed, studies: [] });
    await expect(exportFormats(src)).resolves.toEqual(listed);
    expect(src.refreshes).toBe(1);
  });

  it('offers nothing, and says why, when the server sends no format', async () => {
    const src = source({ formats: [], studies: [study()] });
    await expect(exportFormats(src)).resolves.toEqual([]);
    expect(noFormatsText(src, english)).toMatch(/^The server offers no export format/);
  });

  it('offers nothing, and says why, when the listing cannot be read', async () => {
    const src = source(null, new Error('HTTP 500'));
    await expect(exportFormats(src)).resolves.toEqual([]);
    expect(src.refreshes).toBe(1);
    expect(noFormatsText(src, english)).toContain('could not be listed (HTTP 500)');
  });
});

describe('formatLabel', () => {
  it("names a format by the server's label, else by its id", () => {
    const listed = [{ id: 'tflite-quant', label: 'TensorFlow Lite, quantized' }];
    expect(formatLabel(listed, 'tflite-quant')).toBe('TensorFlow Lite, quantized');
    expect(formatLabel(listed, 'onnx')).toBe('onnx');
  });
});

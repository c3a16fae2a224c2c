import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { exportResponse, type ExportFormat, type ExportRow } from './table-export.js';

/** Batches of random (incompressible) rows, counting how many were read and whether the reader closed them. */
function source(batches: number, rowsPerBatch: number) {
  const state = { pulled: 0, closed: false };
  async function* generate(): AsyncGenerator<ExportRow[]> {
    try {
      for (let batch = 0; batch < batches; batch += 1) {
        state.pulled += 1;
        yield Array.from({ length: rowsPerBatch }, (_, index) => ({
          n: batch * rowsPerBatch + index,
          blob: randomBytes(64).toString('hex'),
        }));
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, batches: generate() };
}

async function settle(): Promise<void> {
  for (let index = 0; index < 20; index += 1) await delay(5);
}

describe('streamed exports', () => {
  for (const format of ['csv', 'json', 'xlsx'] as const satisfies readonly ExportFormat[]) {
    it(`${format}: reads batches only as the client takes the download, and stops reading when it goes away`, async () => {
      const { state, batches } = source(400, 100);
      const response = exportResponse({ format, basename: 'x', columns: ['n', 'blob'], batches });
      const reader = response.body!.getReader();
      await reader.read();
      await settle();
      // A client that stopped reading holds the producer back: far fewer than the 400 batches were read.
      expect(state.pulled).toBeLessThan(40);
      await reader.cancel();
      await settle();
      expect(state.closed).toBe(true);
      const pulled = state.pulled;
      await settle();
      expect(state.pulled).toBe(pulled);
    });
  }

  it('xlsx: a complete download holds every row', async () => {
    const { batches } = source(30, 100);
    const response = exportResponse({ format: 'xlsx', basename: 'x', columns: ['n', 'blob'], batches, sheetName: 'rows' });
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(await response.arrayBuffer());
    const sheet = workbook.getWorksheet('rows')!;
    expect(sheet.rowCount).toBe(3001);
    expect(sheet.getRow(3001).getCell(1).value).toBe(2999);
  });

  it('a read that fails mid-download cuts the stream short and is reported', async () => {
    const failures: unknown[] = [];
    async function* broken(): AsyncGenerator<ExportRow[]> {
      yield [{ n: 1 }];
      throw new Error('database went away');
    }
    const response = exportResponse({
      format: 'csv',
      basename: 'x',
      columns: ['n'],
      batches: broken(),
      onStreamError: (error) => failures.push(error),
    });
    await expect(response.text()).rejects.toThrow('database went away');
    expect(failures).toHaveLength(1);
  });
});

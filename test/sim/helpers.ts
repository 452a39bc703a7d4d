import { DuckDBInstance } from '@duckdb/node-api';
/** Small worlds and rollouts for the simulator's tests (tiny sizes: each test runs in a second or so). */
import { createWorld, type SimConfigInput, type World } from '../../src/sim/index.ts';

/** A small world: fewer users and items, so that building it is fast; the response model is the default one. */
export function smallWorld(overrides: SimConfigInput = {}): World {
  return createWorld({
    ...overrides,
    world: { users: 500, items: 3000, ...overrides.world },
    session: { slots: 64, ...overrides.session },
  });
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Pearson correlation of two equally long series. */
export function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = mean(a);
  const mb = mean(b);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Rows of a DuckDB query on a fresh in-memory database (closed afterwards, also on error). */
export async function duckdbQuery(sql: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

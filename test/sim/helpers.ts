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

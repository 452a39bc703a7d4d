/**
 * Divergence checks of training: a non-finite step scalar or probe value stops the run at once with
 * NonFiniteError naming it; a checkpoint is only written after every tensor of the state was checked finite.
 */
import type { Algorithm } from './algorithm.ts';

/** A quantity of training became NaN or ±Inf. The message names it and the step. */
export class NonFiniteError extends Error {
  constructor(
    readonly quantity: string,
    readonly step: number,
    readonly value: number,
  ) {
    super(`training diverged: ${quantity} is ${value} at step ${step}; no checkpoint was written from this state (lower the learning rates or check the rewards)`);
    this.name = 'NonFiniteError';
  }
}

/** Throws NonFiniteError naming the first variable with a NaN or ±Inf value (before a checkpoint is written). */
export function assertFiniteState(algo: Algorithm, step: number): void {
  for (const [name, v] of algo.variables()) {
    const x = v.dataSync() as Float32Array;
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new NonFiniteError(`tensor ${name}`, step, x[i]);
  }
}

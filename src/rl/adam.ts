/**
 * Adam (Kingma & Ba), PyTorch's formulation, over a named set of variables. Its whole state — the
 * moments m, v and the step count t — is exposed for checkpoints, so a resumed run continues exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { adamStep } from './kernels.ts';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export class Adam {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  /** number of steps taken */
  t = 0;

  constructor(
    readonly vars: [string, tf.Variable][],
    readonly opts: AdamOptions,
  ) {
    this.m = vars.map(([, x]) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.v = vars.map(([, x]) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
  }

  /** One gradient step on `loss` (a function building a scalar); returns the loss (caller disposes). */
  minimize(loss: () => tf.Scalar): tf.Scalar {
    const { value, grads } = tf.variableGrads(loss, this.vars.map(([, x]) => x));
    this.t += 1;
    const h = { ...this.opts, t: this.t };
    this.vars.forEach(([, x], i) => {
      const g = grads[x.name];
      if (g) adamStep(x, g, this.m[i], this.v[i], h);
    });
    tf.dispose(grads);
    return value;
  }

  /** m and v under `${prefix}.adam.m.<var>` / `.v.<var>` for checkpoints. */
  slots(prefix: string): [string, tf.Variable][] {
    return this.vars.flatMap(([name], i): [string, tf.Variable][] => [
      [`${prefix}.adam.m.${name}`, this.m[i]],
      [`${prefix}.adam.v.${name}`, this.v[i]],
    ]);
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/**
 * A worker thread of the evaluation's fit pool (fitPool.ts): holds the test split and the policies'
 * actions it was sent (shared memory), runs fitFqe on request, replies with the fit.
 */
import { parentPort } from 'node:worker_threads';
import type { OpeData } from './data.ts';
import type { FitData, WorkerMessage, WorkerReply } from './fitPool.ts';
import { fitFqe } from './fqe.ts';
import type { PolicyActions } from './policies.ts';
import { initBackend, type BackendName } from './rl.ts';

if (!parentPort) throw new Error('fitWorker.ts runs as a worker thread (src/ope/fitPool.ts)');
const port = parentPort;
let data: FitData | null = null;
const policies = new Map<number, { acts: PolicyActions; weights: Float32Array | null }>();
const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', (m: WorkerMessage) => {
  if (m.type === 'init') {
    data = m.data;
    initBackend(m.backend as BackendName, { threads: m.threads }).then(
      (b) => reply({ id: -1, ready: b.detail }),
      (err: Error) => reply({ id: -1, error: err.message }),
    );
  } else if (m.type === 'acts') {
    // raw actions stay with the parent: fits read the normalised π_e(s), π_e(s′)
    policies.set(m.key, { acts: { samples: m.samples, stochastic: m.stochastic, pi: m.pi, pi2: m.pi2, raw: new Float32Array(0) }, weights: m.weights });
  } else if (m.type === 'release') {
    policies.delete(m.key);
  } else if (m.type === 'fit') {
    try {
      const p = policies.get(m.key);
      if (!data || !p) throw new Error(`fit ${m.id}: ${data ? `no actions under key ${m.key}` : 'no data (init first)'}`);
      const fit = fitFqe(data as OpeData, p.acts, { ...m.o, penaltyWeights: p.weights });
      const transfer = [fit.qData?.buffer, fit.qPi?.buffer, ...(fit.weights ?? []).map((w) => w.buffer)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      reply({ id: m.id, fit }, transfer);
    } catch (err) {
      reply({ id: m.id, error: (err as Error).message });
    }
  }
});

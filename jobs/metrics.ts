/**
 * Prometheus metrics of a worker process (prom-client), served on /metrics when `mtf worker
 * --metrics-port` is given. Sandboxed jobs run in child processes, so the worker records them from
 * BullMQ's completed/failed events, with what the stage returned.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly stageSeconds = new Histogram({
    name: 'mtf_stage_duration_seconds',
    help: 'wall time of a stage job, from start to completion',
    labelNames: ['stage'],
    buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200],
    registers: [this.registry],
  });
  readonly stageFailures = new Counter({
    name: 'mtf_stage_failures_total',
    help: 'stage jobs that failed; final="true" when no retry follows',
    labelNames: ['stage', 'final'],
    registers: [this.registry],
  });
  readonly rowsIngested = new Counter({ name: 'mtf_rows_ingested_total', help: 'log rows read by ingest shards', registers: [this.registry] });
  readonly lastPublish = new Gauge({
    name: 'mtf_last_successful_publish_timestamp_seconds',
    help: 'when this worker last published a model (Unix time)',
    registers: [this.registry],
  });
  readonly gateRejections = new Counter({ name: 'mtf_gate_rejections_total', help: 'candidate models the gate rejected', registers: [this.registry] });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'mtf_worker_' });
  }

  completed(stage: string, seconds: number, result: Record<string, unknown> | null): void {
    this.stageSeconds.observe({ stage }, seconds);
    if (stage === 'shard' && typeof result?.rows_read === 'number') this.rowsIngested.inc(result.rows_read);
    if (stage === 'publish' && result?.decision === 'published') this.lastPublish.set(Date.now() / 1000);
  }

  failed(stage: string, final: boolean, gateRejected: boolean): void {
    this.stageFailures.inc({ stage, final: String(final) });
    if (gateRejected) this.gateRejections.inc();
  }
}

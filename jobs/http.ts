/**
 * What a worker serves on 127.0.0.1 when asked: Prometheus metrics (/metrics) and the Bull Board
 * dashboard of every mtf queue. Loopback only: neither has authentication; put a proxy in front to
 * share them.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Queue } from 'bullmq';
import type { QueueConnection } from './connection.ts';
import type { WorkerMetrics } from './metrics.ts';
import { QUEUES } from './queues.ts';

export async function startHttp(o: { conn: QueueConnection; metrics: WorkerMetrics | null; metricsPort: number | null; dashboardPort: number | null }) {
  const servers: { close(): Promise<unknown> }[] = [];
  const lines: string[] = [];
  if (o.metrics && o.metricsPort !== null) {
    const app = Fastify();
    const reg = o.metrics.registry;
    app.get('/metrics', async (_req, reply) => reply.type(reg.contentType).send(await reg.metrics()));
    const addr = await app.listen({ host: '127.0.0.1', port: o.metricsPort });
    servers.push(app);
    lines.push(`metrics: ${addr}/metrics`);
  }
  if (o.dashboardPort !== null) {
    const { app, queues } = await dashboard(o.conn);
    const addr = await app.listen({ host: '127.0.0.1', port: o.dashboardPort });
    servers.push({ close: async () => (await app.close(), await Promise.all(queues.map((q) => q.close()))) });
    lines.push(`dashboard: ${addr}/`);
  }
  return { servers, lines };
}

async function dashboard(conn: QueueConnection): Promise<{ app: FastifyInstance; queues: Queue[] }> {
  const { createBullBoard } = await import('@bull-board/api');
  const { BullMQAdapter } = await import('@bull-board/api/bullMQAdapter');
  const { FastifyAdapter } = await import('@bull-board/fastify');
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: conn.redis, prefix: conn.prefix }));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter });
  const app = Fastify();
  await app.register(serverAdapter.registerPlugin(), { prefix: '/' });
  return { app, queues };
}

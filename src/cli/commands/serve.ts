import type { Command } from 'commander';
import { SERVE_DEFAULTS } from '../../serving/defaults.ts';
import { examples, parseNumberFlag } from '../flags.ts';
import { DESCRIPTIONS } from './index.ts';

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description(DESCRIPTIONS.serve)
    .requiredOption('--name <name>', 'model name in the store')
    .option('--store <dir>', 'model store directory', 'models')
    .option('--host <addr>', 'interface to bind (0.0.0.0 exposes it to the network)', SERVE_DEFAULTS.host)
    .option('--port <n>', 'port (0 = any free port)', String(SERVE_DEFAULTS.port))
    .option('--body-limit <bytes>', 'largest request body; larger ones get 413', String(SERVE_DEFAULTS.bodyLimit))
    .option('--max-requests <n>', 'most requests (rows of states) per call', String(SERVE_DEFAULTS.maxRequests))
    .option('--max-candidates <n>', 'most candidates per request', String(SERVE_DEFAULTS.maxCandidates))
    .option('--max-scores <n>', 'most scores (requests × candidates) per call', String(SERVE_DEFAULTS.maxScores))
    .option('--request-timeout-ms <n>', 'the whole request (headers and body) must arrive within n ms, else 408 and close (0 = no limit)', String(SERVE_DEFAULTS.requestTimeoutMs))
    .option('--connection-timeout-ms <n>', 'close a connection silent for n ms while a request is read or answered (0 = never)', String(SERVE_DEFAULTS.connectionTimeoutMs))
    .option('--keep-alive-timeout-ms <n>', 'close an idle keep-alive connection after n ms', String(SERVE_DEFAULTS.keepAliveTimeoutMs))
    .option('--max-connections <n>', 'most simultaneous connections; more are closed on arrival', String(SERVE_DEFAULTS.maxConnections))
    .option('--poll-ms <n>', 'check CURRENT every n ms (0 = never swap)', String(SERVE_DEFAULTS.pollMs))
    .option('--threads <n>', 'onnxruntime intra-op threads', '1')
    .action(async (o: Record<string, string>) => {
      const int = (flag: string, v: string, min: number, max?: number) => parseNumberFlag(v, flag, { integer: true, min, max });
      const port = int('--port', o.port, 0, 65535);
      const bodyLimit = int('--body-limit', o.bodyLimit, 1);
      const maxRequests = int('--max-requests', o.maxRequests, 1);
      const maxCandidates = int('--max-candidates', o.maxCandidates, 1);
      const maxScores = int('--max-scores', o.maxScores, 1);
      const requestTimeoutMs = int('--request-timeout-ms', o.requestTimeoutMs, 0);
      const connectionTimeoutMs = int('--connection-timeout-ms', o.connectionTimeoutMs, 0);
      const keepAliveTimeoutMs = int('--keep-alive-timeout-ms', o.keepAliveTimeoutMs, 1);
      const maxConnections = int('--max-connections', o.maxConnections, 1);
      const pollMs = int('--poll-ms', o.pollMs, 0);
      const threads = int('--threads', o.threads, 1, 256);
      const { FusionScorer, startServer } = await import('../../serving/index.ts');
      const limits = { maxRequests, maxCandidates, maxScores };
      const scorer = await FusionScorer.open(o.store, o.name, { pollMs, threads, limits });
      const server = await startServer(scorer, { host: o.host, port, bodyLimit, ...limits, requestTimeoutMs, connectionTimeoutMs, keepAliveTimeoutMs, maxConnections });
      process.stdout.write(`serving ${o.name}/${scorer.version} from ${o.store} on ${server.url} (POST /v1/score)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      await scorer.close();
    });
  cmd.addHelpText(
    'after',
    [
      '',
      'API:',
      '  GET  /healthz   status, name, served version, last rejection',
      '  GET  /v1/model  names, dims, bounds and β of the served version',
      '  POST /v1/score  { states: [n × d], task_scores: [n × C × k], session_ids?: [n] }',
      '                  → { version, fusion_weights: [n × k], scores: [n × C] }',
      '                  With session_ids (strings or integers), the manifest\'s exploration',
      '                  per session (schemas/exploration.md): fusion_weights is the α',
      '                  applied, plus action_logp: [n] (null for a σ = 0 arm) and',
      '                  policy_id: [n] (<arm>:<version>) — the columns the stack logs.',
    ].join('\n'),
  );
  examples(cmd, ['mtf serve --name fusion --store models --port 8080', 'mtf serve --name fusion --store /data/models --host 0.0.0.0 --port 8080 --threads 4']);
}

/**
 * One in-process ingest for bench:ingest: `node --import tsx test/data/ingestRun.bench.ts <log> <out> <weights>`.
 * Prints JSON: wall and CPU seconds of ingest() (process.cpuUsage: user + system, every thread), the
 * seconds spent loading the modules before it, the phase breakdown and the report's counts.
 */
const t0 = performance.now();
const c0 = process.cpuUsage();
const { ingest, parseRewardWeights } = await import('../../src/data/index.ts');
const t1 = performance.now();
const c1 = process.cpuUsage();
const [logs, out, weights] = process.argv.slice(2);
const r = await ingest({ logs, window: null, reward: parseRewardWeights(weights), out });
const c2 = process.cpuUsage();
const cpu = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1e6;
console.log(
  JSON.stringify({
    import_wall: (t1 - t0) / 1000,
    import_cpu: cpu(c0, c1),
    wall: (performance.now() - t1) / 1000,
    cpu: cpu(c1, c2),
    phases: r.phases,
    transitions: r.report.transitions,
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
  }),
);

// The reference for bench:ingest: DuckDB (1 thread) scans the same log and groups it by session,
// touching every column the ingest reads (states and actions summed so they are decoded, not skipped).
// Prints the query's own wall and CPU seconds (process.cpuUsage: every thread) as JSON.
import { DuckDBInstance } from '@duckdb/node-api';

const file = process.argv[2];
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await inst.connect();
const t0 = performance.now();
const c0 = process.cpuUsage();
const r = await conn.runAndReadAll(`
  SELECT session_id, any_value(user_id) AS user_id, count(*) AS n, min(request_ts) AS start_ts,
         sum(list_sum(state)) AS s, sum(list_sum(action)) AS a,
         sum(play_time_s + 2 * "like"::INT + 4 * share) AS reward
  FROM read_parquet('${file.replace(/'/g, "''")}') GROUP BY session_id`);
const c = process.cpuUsage(c0);
if (r.currentRowCount === 0) throw new Error('no groups');
console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, groups: r.currentRowCount }));

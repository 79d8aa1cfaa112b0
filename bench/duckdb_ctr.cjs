// duckdb_ctr: the DuckDB peer of sluice-bench's file workload (bench/README.md, "file").
//
//   node bench/duckdb_ctr.cjs PREFIX FILE OUT.csv THREADS
//   node bench/duckdb_ctr.cjs PREFIX --version
//
// PREFIX is the folder bench/peers-setup.sh installed DuckDB's npm package (@duckdb/node-api)
// into. Computes what `sluice ctr --input FILE --output OUT.csv` computes: per ad_id,
// impressions (event_type view or impression), clicks (event_type click) and ctr =
// clicks / impressions (0 without impressions), one row for every ad seen, sorted by ad_id, as
// CSV ad_id,impressions,clicks,ctr. DuckDB reads the NDJSON itself (read_ndjson, only the two
// columns the query needs) and runs with SET threads=THREADS.
//
// Exit status: 0 done, 1 DuckDB failed (the message on stderr), 2 usage, 3 DuckDB not installed.
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

const [prefix, input, output, threads] = process.argv.slice(2);
const usage = 'usage: node duckdb_ctr.cjs PREFIX FILE OUT.csv THREADS | PREFIX --version';
if (!prefix || !input || (input !== '--version' && (!output || !(Number(threads) >= 1)))) {
  console.error(usage);
  process.exit(2);
}

let duckdb;
try {
  duckdb = createRequire(path.join(path.resolve(prefix), 'package.json'))('@duckdb/node-api');
} catch (e) {
  console.error(`duckdb_ctr: @duckdb/node-api is not installed in ${prefix}: ${e.message}`);
  process.exit(3);
}

// A SQL string literal.
const lit = (s) => "'" + String(s).replace(/'/g, "''") + "'";

async function main() {
  const db = await duckdb.DuckDBInstance.create(':memory:');
  const con = await db.connect();
  if (input === '--version') {
    const r = await con.runAndReadAll('SELECT version()');
    console.log(`DuckDB ${r.getRows()[0][0]}`);
    return;
  }
  await con.run(`SET threads = ${Number(threads)}`);
  await con.run(`COPY (
      SELECT ad_id,
             count(*) FILTER (WHERE event_type IN ('view', 'impression')) AS impressions,
             count(*) FILTER (WHERE event_type = 'click') AS clicks,
             CASE WHEN impressions = 0 THEN 0 ELSE clicks / impressions END AS ctr
      FROM read_ndjson(${lit(input)}, columns = {ad_id: 'VARCHAR', event_type: 'VARCHAR'})
      GROUP BY ad_id
      ORDER BY ad_id
    ) TO ${lit(output)} (FORMAT csv, HEADER true, DELIMITER ',')`);
}

main().catch((e) => {
  console.error(`duckdb_ctr: ${e.message}`);
  process.exit(1);
});

// The notes, newest first, as JSON, from the database in DATABASE_URL (set by
// `slipway addons:create postgresql`); the schema is the migrations' (migrations/).
const http = require('node:http');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 5 });

http
  .createServer(async (_req, res) => {
    try {
      const { rows } = await pool.query('SELECT id, body FROM notes ORDER BY id DESC');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ release: process.env.CONTAINER_VERSION, notes: rows }));
    } catch (err) {
      res.statusCode = 500;
      res.end(`database error: ${err.message}\n`);
    }
  })
  .listen(Number(process.env.PORT));

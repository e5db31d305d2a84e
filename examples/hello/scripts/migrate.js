// The postdeploy hook's migration step. A real app would apply these SQL files
// to the database in $DATABASE_URL (with its own migration tool) and record
// them there. This example lists what it would apply, so it runs anywhere.
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'migrations');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.sql'))
  .sort();
if (!process.env.DATABASE_URL) {
  console.log(`no DATABASE_URL set: ${files.length} migration(s) to apply once a database is attached`);
} else {
  for (const file of files) console.log(`would apply ${file} to ${new URL(process.env.DATABASE_URL).host}`);
}

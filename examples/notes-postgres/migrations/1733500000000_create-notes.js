// The notes table, with a first note. Each migration runs in a transaction of its own.
exports.up = (pgm) => {
  pgm.createTable('notes', {
    id: 'id',
    body: { type: 'text', notNull: true },
    created_at: { type: 'timestamptz', notNull: true, default: pgm.func('now()') },
  });
  pgm.sql("INSERT INTO notes (body) VALUES ('migrated by the postdeploy hook')");
};

exports.down = (pgm) => {
  pgm.dropTable('notes');
};

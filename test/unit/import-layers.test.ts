// The module graph of src/ as the TypeScript sources write it: no file is
// part of an import cycle, and every import between folders points down the
// layer order of ARCHITECTURE.md ("Layers"), never up and never sideways into
// a sibling of the same layer. Type-only imports count: they shape the code
// as much as values do.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/slipway.ts';

const SRC = path.join(ROOT, 'src');

/** Lower ranks are lower layers; a folder may import only folders of a lower rank. */
const LAYERS: Record<string, number> = {
  core: 0,
  exec: 1,
  config: 1,
  store: 2,
  logs: 2,
  source: 3,
  build: 3,
  addons: 3,
  runtime: 3,
  router: 3,
  certs: 3,
  pipeline: 4,
  intake: 5,
  api: 6,
  web: 7,
  // The composition root: server.ts, and the runtime choice it hands out to a file of its own.
  'pick-runtime.ts': 7.5,
  'server.ts': 8,
  cli: 9,
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports of a file (static, dynamic and re-exports), resolved to files. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom|\bimport\s*\(|^\s*import)\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    found.push(path.resolve(path.dirname(file), match[1] as string));
  }
  return found;
}

const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0] as string;

const graph = new Map(sourceFiles(SRC).map((file) => [file, importsOf(file)]));

test('every folder of src/ has a place in the layer order', () => {
  const folders = new Set([...graph.keys()].map(folderOf));
  for (const folder of folders) assert.ok(folder in LAYERS, `${folder} is missing from the layer order`);
});

test('imports between folders point to lower layers only', () => {
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    for (const target of imports) {
      const to = folderOf(target);
      if (to === from) continue;
      if ((LAYERS[to] ?? Number.POSITIVE_INFINITY) >= (LAYERS[from] ?? 0)) {
        wrong.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycles between files', () => {
  // Tarjan's strongly connected components: any component of two or more files is a cycle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string) => {
    index.set(file, counter);
    low.set(file, counter);
    counter++;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) as number, index.get(next) as number));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(path.relative(SRC, member));
      } while (member !== file);
      if (component.length > 1 || (graph.get(file) ?? []).includes(file)) cycles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});

test('the test sees the whole graph', () => {
  assert.ok(graph.size > 150, `${graph.size} files`);
  assert.ok(importsOf(path.join(SRC, 'server.ts')).length > 10);
});

// The nodejs buildpack through the buildpack API, on apps without
// dependencies (nothing is downloaded): detect, release, the engines.node
// check, the build scripts and their order, NODE_ENV at build and run time,
// config vars exported into the build, lockfile choice. Installs from the
// registry, the cache and native modules: nodejs-installs.test.ts.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  BUILDPACKS,
  type BuildDirs,
  parseRelease,
  prepareBuild,
  runStep,
  SOURCE_VERSION,
  STACK,
  type StepResult,
  startApp,
} from '../helpers/buildpack-api.ts';

interface Step {
  script: string;
  nodeEnv: string | null;
  greeting: string | null;
  path: string;
  stack: string | null;
  sourceVersion: string | null;
}

interface PackageJson {
  scripts: Record<string, string>;
  engines: Record<string, string>;
  packageManager?: string;
}

async function editPackageJson(dirs: BuildDirs, edit: (pkg: PackageJson) => void): Promise<void> {
  const file = path.join(dirs.buildDir, 'package.json');
  const pkg = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(pkg);
  await fs.writeFile(file, JSON.stringify(pkg, null, 2));
}

async function withBuild(
  config: Record<string, string>,
  body: (dirs: BuildDirs) => Promise<void>,
  fixture = 'node-basics',
): Promise<void> {
  const dirs = await prepareBuild(fixture, config);
  try {
    await body(dirs);
  } finally {
    await dirs.remove();
  }
}

/** Compiles node-basics, its package.json first changed by `edit`, with `config`; hands the result to `check`. */
async function compileEdited(
  edit: (pkg: PackageJson) => void,
  check: (result: StepResult, dirs: BuildDirs) => Promise<void> | void,
  config: Record<string, string> = {},
): Promise<void> {
  await withBuild(config, async (dirs) => {
    await editPackageJson(dirs, edit);
    await check(await runStep('nodejs', 'compile', dirs), dirs);
  });
}

async function steps(dirs: BuildDirs): Promise<Step[]> {
  return JSON.parse(await fs.readFile(path.join(dirs.buildDir, 'steps.json'), 'utf8'));
}

describe('nodejs buildpack: detect and release', () => {
  test('detects a package.json, and nothing else', async () => {
    await withBuild({}, async (dirs) => {
      const yes = await runStep('nodejs', 'detect', dirs);
      assert.equal(yes.code, 0);
      assert.equal(yes.stdout, 'Node.js');
      await fs.rm(path.join(dirs.buildDir, 'package.json'));
      assert.equal((await runStep('nodejs', 'detect', dirs)).code, 1);
    });
  });

  test('release: web is npm start when there is a start script, NODE_ENV=production as a default', async () => {
    await withBuild({}, async (dirs) => {
      const release = parseRelease((await runStep('nodejs', 'release', dirs)).stdout);
      assert.deepEqual(release.processes, { web: 'npm start' });
      assert.deepEqual(release.configVars, { NODE_ENV: 'production' });
      await editPackageJson(dirs, (pkg) => {
        delete pkg.scripts.start;
      });
      const without = await runStep('nodejs', 'release', dirs);
      assert.equal(without.code, 0);
      assert.deepEqual(parseRelease(without.stdout).processes, {});
    });
  });

  test("after bin/compile, release answers from compile's note exactly as it does alone, for that build only", async () => {
    await withBuild({}, async (dirs) => {
      const alone = (await runStep('nodejs', 'release', dirs)).stdout;
      assert.equal((await runStep('nodejs', 'compile', dirs)).code, 0);
      assert.equal((await runStep('nodejs', 'release', dirs)).stdout, alone);
      // Another build's release is not answered from this one's note: no start script there.
      await withBuild({}, async (other) => {
        await editPackageJson(other, (pkg) => {
          delete pkg.scripts.start;
        });
        assert.deepEqual(parseRelease((await runStep('nodejs', 'release', other)).stdout).processes, {});
      });
    });
    await compileEdited(
      (pkg) => {
        delete pkg.scripts.start;
      },
      async (compiled, dirs) => {
        assert.equal(compiled.code, 0, compiled.output);
        assert.deepEqual(parseRelease((await runStep('nodejs', 'release', dirs)).stdout).processes, {});
      },
    );
  });
});

describe('nodejs buildpack: engines.node against the one Node.js here', () => {
  const major = process.versions.node.split('.')[0];

  test('a range this Node.js cannot satisfy fails the build before installing, saying why', async () => {
    await compileEdited(
      (pkg) => {
        pkg.engines.node = '18.x';
      },
      async (result, dirs) => {
        assert.equal(result.code, 1, result.output);
        assert.match(
          result.output,
          /engines\.node "18\.x" cannot be satisfied: this platform has Node\.js v20\.\d+\.\d+ only/,
        );
        assert.match(result.output, new RegExp(`for example "${major}\\.x"`));
        assert.doesNotMatch(result.output, /Installing dependencies|heroku-prebuild/);
        await assert.rejects(fs.access(path.join(dirs.buildDir, 'steps.json')));
      },
    );
  });

  test('a range that includes this Node.js but also newer majors builds, with a warning', async () => {
    await compileEdited(
      (pkg) => {
        pkg.engines.node = '>=18';
      },
      async (result) => {
        assert.equal(result.code, 0, result.output);
        assert.match(
          result.output,
          new RegExp(`^ ! {5}engines\\.node ">=18" also allows Node\\.js ${Number(major) + 1} and later`, 'm'),
        );
      },
    );
  });

  test('a range of this major builds without a warning', async () => {
    await withBuild({}, async (dirs) => {
      const result = await runStep('nodejs', 'compile', dirs);
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, /engines\.node \(package\.json\): 20\.x/);
      assert.doesNotMatch(result.output, /^ !/m);
    });
  });
});

describe('nodejs buildpack: build scripts, NODE_ENV, config vars', () => {
  test('heroku-prebuild, build, heroku-cleanup run in that order, with NODE_ENV=production and the config vars', async () => {
    await withBuild({ GREETING: 'hello from ENV_DIR', PATH: '/nowhere', LD_PRELOAD: '/evil.so' }, async (dirs) => {
      const result = await runStep('nodejs', 'compile', dirs);
      assert.equal(result.code, 0, result.output);
      const ran = await steps(dirs);
      assert.deepEqual(
        ran.map((s) => s.script),
        ['heroku-prebuild', 'build', 'heroku-cleanup'],
      );
      for (const step of ran) {
        assert.equal(step.nodeEnv, 'production');
        assert.equal(step.greeting, 'hello from ENV_DIR');
        assert.equal(step.stack, STACK);
        assert.equal(step.sourceVersion, SOURCE_VERSION);
        assert.doesNotMatch(step.path, /\/nowhere/);
      }
      assert.match(result.output, /Config vars exported into the build: GREETING$/m);
      assert.match(
        result.output,
        /Config vars not exported \(they would change how the build runs\): LD_PRELOAD PATH$/m,
      );
      // Heroku-style output: headers and indented details only.
      for (const line of result.lines) assert.match(line, /^(-----> | {7}| ! {5}|$)/, line);
    });
  });

  test('heroku-postbuild runs instead of build, as on Heroku', async () => {
    await compileEdited(
      (pkg) => {
        pkg.scripts['heroku-postbuild'] = 'node record.js heroku-postbuild';
      },
      async (result, dirs) => {
        assert.equal(result.code, 0, result.output);
        assert.deepEqual(
          (await steps(dirs)).map((s) => s.script),
          ['heroku-prebuild', 'heroku-postbuild', 'heroku-cleanup'],
        );
        assert.match(result.output, /Running heroku-postbuild \(instead of build, as on Heroku\)/);
      },
    );
  });

  test('the app runs with NODE_ENV=production (.profile.d) unless a config var says otherwise', async () => {
    await withBuild({}, async (dirs) => {
      assert.equal((await runStep('nodejs', 'compile', dirs)).code, 0);
      const { processes } = parseRelease((await runStep('nodejs', 'release', dirs)).stdout);
      const app = await startApp(dirs.buildDir, processes.web as string);
      try {
        const body = (await (await fetch(app.url)).json()) as { nodeEnv: string };
        assert.equal(body.nodeEnv, 'production');
      } finally {
        await app.stop();
      }
      const staging = await startApp(dirs.buildDir, processes.web as string, { NODE_ENV: 'staging' });
      try {
        assert.equal(((await (await fetch(staging.url)).json()) as { nodeEnv: string }).nodeEnv, 'staging');
      } finally {
        await staging.stop();
      }
    });
  });

  test('a NODE_ENV config var is the build NODE_ENV too', async () => {
    await withBuild({ NODE_ENV: 'staging' }, async (dirs) => {
      assert.equal((await runStep('nodejs', 'compile', dirs)).code, 0);
      assert.ok((await steps(dirs)).every((s) => s.nodeEnv === 'staging'));
    });
  });

  test('the export file hands NODE_ENV and node_modules/.bin to later buildpacks', async () => {
    await withBuild({}, async (dirs) => {
      assert.equal((await runStep('nodejs', 'compile', dirs)).code, 0);
      const exported = await fs.readFile(path.join(BUILDPACKS, 'nodejs', 'export'), 'utf8');
      assert.match(exported, /^export NODE_ENV=production$/m);
      assert.ok(exported.includes(`export PATH=${path.join(dirs.buildDir, 'node_modules', '.bin')}:"$PATH"`), exported);
    });
  });
});

describe('nodejs buildpack: a broken app fails the compile with a clear message', () => {
  const cases: [string, (pkg: PackageJson) => void, RegExp][] = [
    [
      'an invalid engines.node range',
      (pkg) => {
        pkg.engines.node = 'latest please';
      },
      /engines\.node in package\.json is not a valid semver range: "latest please"/,
    ],
    [
      '"packageManager" naming another manager than the lockfile',
      (pkg) => {
        pkg.packageManager = 'pnpm@9.15.9';
      },
      /"packageManager": "pnpm@9\.15\.9", but the lockfile is package-lock\.json/,
    ],
    [
      'a failing build script (its output shown)',
      (pkg) => {
        pkg.scripts.build = 'echo compiling; exit 3';
      },
      /compiling/,
    ],
  ];
  for (const [name, edit, message] of cases) {
    test(name, async () => {
      await compileEdited(edit, (result) => {
        assert.notEqual(result.code, 0);
        assert.match(result.output, message);
        assert.doesNotMatch(result.output, /Build succeeded|\.mjs:\d+/);
      });
    });
  }
});

describe('nodejs buildpack: which package manager', () => {
  test('two lockfiles without "packageManager" is an error naming both', async () => {
    await withBuild({}, async (dirs) => {
      await fs.writeFile(path.join(dirs.buildDir, 'yarn.lock'), '# yarn lockfile v1\n');
      const result = await runStep('nodejs', 'compile', dirs);
      assert.equal(result.code, 1);
      assert.match(result.output, /several lockfiles: package-lock\.json, yarn\.lock/);
    });
  });

  test('no lockfile: npm install, with a warning, and nothing cached', async () => {
    await withBuild({}, async (dirs) => {
      await fs.rm(path.join(dirs.buildDir, 'package-lock.json'));
      const result = await runStep('nodejs', 'compile', dirs);
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, /No lockfile: dependencies are resolved afresh on every build, and not cached/);
      await assert.rejects(fs.access(path.join(dirs.cacheDir, 'kept', 'node_modules.key.json')));
    });
  });
});

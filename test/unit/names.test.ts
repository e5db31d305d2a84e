// App names become DNS labels and directory names; config var names must work
// as `$KEY` in a hook; config values are stored as given.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlipwayError } from '../../src/core/errors.ts';
import {
  MAX_CONFIG_VALUE_BYTES,
  validateAppName,
  validateConfigKey,
  validateConfigValue,
} from '../../src/core/names.ts';

function assertCode(fn: () => unknown, code: SlipwayError['code'], label: string): void {
  assert.throws(fn, (err: unknown) => err instanceof SlipwayError && err.code === code, `${label}: expected ${code}`);
}

describe('validateAppName', () => {
  test('accepts lowercase names with digits and single dashes, 3 to 30 characters', () => {
    for (const name of ['abc', 'my-app', 'app2', 'a1b', 'my-app-2', 'x'.repeat(30), 'a-b-c-d']) {
      assert.equal(validateAppName(name), name);
    }
  });

  test('rejects anything else with app.invalid_name', () => {
    const bad = [
      '',
      'ab',
      'x'.repeat(31),
      'MyApp',
      'myApp',
      '1app',
      '-app',
      'app-',
      'my--app',
      'my_app',
      'my.app',
      'my app',
      'app\n',
      'ünïcode',
      '../etc',
    ];
    for (const name of bad) assertCode(() => validateAppName(name), 'app.invalid_name', JSON.stringify(name));
  });

  test('rejects non-strings with app.invalid_name', () => {
    for (const value of [undefined, null, 123, {}, ['app'], true]) {
      assertCode(() => validateAppName(value), 'app.invalid_name', String(value));
    }
  });
});

describe('validateConfigKey', () => {
  test('accepts shell variable names', () => {
    for (const key of ['DATABASE_URL', 'PORT', '_PRIVATE', 'lower_case', 'A1', 'x'.repeat(255)]) {
      assert.equal(validateConfigKey(key), key);
    }
  });

  test('rejects names a shell cannot expand with config.invalid_key', () => {
    for (const key of ['', '1ABC', 'MY-VAR', 'MY VAR', 'A=B', 'A.B', 'ÄB', '$A', 'A\n', 'x'.repeat(256)]) {
      assertCode(() => validateConfigKey(key), 'config.invalid_key', JSON.stringify(key));
    }
  });
});

describe('validateConfigValue', () => {
  test('accepts any text: empty, newlines, quotes, $, backslashes, unicode', () => {
    const values = [
      '',
      'line1\nline2\r\n',
      `it's "quoted"`,
      '$HOME $' + '{PATH} $(rm -rf /) `id`',
      'C:\\path\\to',
      '-----BEGIN KEY-----\nabc\n-----END KEY-----\n',
      'héllo ✓',
      'a'.repeat(MAX_CONFIG_VALUE_BYTES),
    ];
    for (const v of values) assert.equal(validateConfigValue('KEY', v), v);
  });

  test('rejects a NUL byte with config.invalid_value', () => {
    assertCode(() => validateConfigValue('KEY', 'a\0b'), 'config.invalid_value', 'NUL');
  });

  test('rejects non-strings with config.invalid_value', () => {
    for (const v of [1, null, undefined, true, { a: 1 }]) {
      assertCode(() => validateConfigValue('KEY', v), 'config.invalid_value', String(v));
    }
  });

  test('rejects values over the size limit, counted in bytes', () => {
    assertCode(
      () => validateConfigValue('KEY', 'a'.repeat(MAX_CONFIG_VALUE_BYTES + 1)),
      'config.invalid_value',
      'ascii',
    );
    const multibyte = 'é'.repeat(MAX_CONFIG_VALUE_BYTES / 2 + 1); // 2 bytes each
    assertCode(() => validateConfigValue('KEY', multibyte), 'config.invalid_value', 'multibyte');
  });
});

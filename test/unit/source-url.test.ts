// Source URLs (http/https only; git or tarball), webhook signatures, and what
// a GitHub push deploys.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSourceUrl } from '../../src/source/fetch-url.ts';
import { ignoreReason, parsePush } from '../../src/source/github-push-event.ts';
import { signBody, verifySignature } from '../../src/source/github-signature.ts';
import { locateSource } from '../../src/source/locate-source.ts';
import type { GithubLink } from '../../src/store/types.ts';

describe('source URLs', () => {
  test('only absolute http and https URLs are accepted', () => {
    assert.equal(parseSourceUrl('https://example.com/a.tar.gz').hostname, 'example.com');
    assert.equal(parseSourceUrl('http://127.0.0.1:8080/x').port, '8080');
    for (const bad of [
      'file:///etc/passwd',
      'ftp://h/x',
      '/etc/passwd',
      'ext::sh -c id',
      'git@github.com:a/b',
      '',
      42,
    ]) {
      assert.throws(() => parseSourceUrl(bad), { code: 'source.invalid_url' }, String(bad));
    }
  });

  test('what a URL names: a tarball, a git repository at a ref, or only the server can tell', () => {
    const located = (u: string, ref: string | null = null) => {
      const { url, ref: at, kind } = locateSource(new URL(u), ref);
      return [kind, url.href, at];
    };
    const cases: [string, string | null, (string | null)[]][] = [
      ['https://example.com/app.tar.gz', null, ['tarball', 'https://example.com/app.tar.gz', null]],
      ['https://example.com/app.tgz#main', 'v1', ['tarball', 'https://example.com/app.tgz', 'v1']],
      ['https://github.com/acme/shop.git', null, ['git', 'https://github.com/acme/shop.git', null]],
      ['https://github.com/acme/shop.git/', 'main', ['git', 'https://github.com/acme/shop.git/', 'main']],
      // Scalingo's button: the branch in the fragment; a ref given beside it wins.
      ['https://github.com/acme/shop#dev', null, ['git', 'https://github.com/acme/shop', 'dev']],
      ['https://github.com/acme/shop#feature%2Fx', null, ['git', 'https://github.com/acme/shop', 'feature/x']],
      ['https://github.com/acme/shop#dev', 'main', ['git', 'https://github.com/acme/shop', 'main']],
      // Heroku's button: GitHub's browse URL of a branch (which may hold slashes).
      ['https://github.com/acme/shop/tree/dev', null, ['git', 'https://github.com/acme/shop', 'dev']],
      ['https://github.com/acme/shop/tree/feature/x/', null, ['git', 'https://github.com/acme/shop', 'feature/x']],
      ['https://gitlab.example/acme/shop', 'v1', ['git', 'https://gitlab.example/acme/shop', 'v1']],
      ['https://github.com/acme/shop', null, ['ask', 'https://github.com/acme/shop', null]],
      [
        'https://codeload.github.com/acme/shop/tar.gz/main',
        null,
        ['ask', 'https://codeload.github.com/acme/shop/tar.gz/main', null],
      ],
      // Deeper paths are not GitHub's /tree/: the server is asked.
      ['https://example.com/a/b/c/tree/x', null, ['ask', 'https://example.com/a/b/c/tree/x', null]],
    ];
    for (const [url, ref, expected] of cases) assert.deepEqual(located(url, ref), expected, `${url} (ref ${ref})`);
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"zen":"hi"}');
  test('the HMAC of the exact body with the secret verifies; anything else does not', () => {
    const signature = signBody('s3cret', body);
    assert.match(signature, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifySignature('s3cret', body, signature), true);
    assert.equal(verifySignature('other', body, signature), false);
    assert.equal(verifySignature('s3cret', Buffer.from('{"zen": "hi"}'), signature), false);
    assert.equal(verifySignature('s3cret', body, signature.toUpperCase()), false);
    assert.equal(verifySignature('s3cret', body, signature.slice(0, -1)), false);
    assert.equal(verifySignature('s3cret', body, undefined), false);
    assert.equal(verifySignature('s3cret', body, signature.replace('sha256=', 'sha1=')), false);
  });
});

describe('GitHub pushes', () => {
  const sha = 'a'.repeat(40);
  const link: GithubLink = {
    app: 'shop',
    repo: 'acme/shop',
    branch: 'main',
    autoDeploy: true,
    secret: 's',
    token: null,
    createdAt: '',
  };
  const payload = (extra: Record<string, unknown> = {}) => ({
    ref: 'refs/heads/main',
    after: sha,
    repository: { full_name: 'Acme/Shop' },
    pusher: { name: 'octo' },
    ...extra,
  });

  const pushOf = (extra: Record<string, unknown> = {}) => {
    const push = parsePush(payload(extra));
    assert.ok(push);
    return push;
  };

  test('a push to the linked branch deploys; other branches, deletions and auto-deploy off do not', () => {
    const push = pushOf();
    assert.deepEqual(push, { repo: 'Acme/Shop', ref: 'refs/heads/main', sha, deleted: false, pusher: 'octo' });
    assert.equal(ignoreReason(link, push), null);
    assert.match(ignoreReason(link, pushOf({ ref: 'refs/heads/dev' })) ?? '', /not the linked branch/);
    assert.match(ignoreReason(link, pushOf({ after: '0'.repeat(40) })) ?? '', /deleted/);
    assert.match(ignoreReason({ ...link, autoDeploy: false }, push) ?? '', /auto-deploy is off/);
  });

  test('payloads without a repository, ref or proper SHA are not pushes', () => {
    assert.equal(parsePush(payload({ after: 'not-a-sha' })), null);
    assert.equal(parsePush(payload({ ref: 1 })), null);
    assert.equal(parsePush({ ref: 'refs/heads/main', after: sha }), null);
    assert.equal(parsePush(null), null);
  });
});

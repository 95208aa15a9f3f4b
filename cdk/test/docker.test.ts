/**
 * The worker image without Docker: the Dockerfile and the build context it gets must agree with
 * the Cargo workspace. (scripts/check-worker-image.sh lints the Dockerfile and runs its cargo
 * line; scripts/docker-context.sh checks the context `cdk synth` staged.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../lib/app';
import { dockerContextExcludes, workspaceMemberRoots } from '../lib/drs-waves-stack';

const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'worker', 'Dockerfile'), 'utf8');

/** Sources of the COPY instructions that take from the build context (not `--from=`). */
function copySources(): string[] {
  return dockerfile
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
    .flatMap((l) => l.replace(/^COPY\s+/, '').trim().split(/\s+/).slice(0, -1));
}

describe('worker image', () => {
  it('the workspace members include the contract crate (the folders come from Cargo.toml)', () => {
    const roots = workspaceMemberRoots(REPO_ROOT);
    for (const r of ['codegen', 'contract', 'tests', 'worker']) assert.ok(roots.includes(r), `${r} is not a member folder: ${roots.join(', ')}`);
  });

  it("the Dockerfile COPYs the workspace manifest, the lock file and every member's folder", () => {
    const sources = copySources();
    for (const needed of ['Cargo.toml', 'Cargo.lock', ...workspaceMemberRoots(REPO_ROOT)]) {
      assert.ok(sources.includes(needed), `worker/Dockerfile does not COPY ${needed} (add \`COPY ${needed} ${needed}\` beside the others)`);
    }
  });

  it("the root .dockerignore whitelists exactly what the CDK app's build context does", () => {
    const lines = fs
      .readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.deepEqual([...lines].sort(), [...dockerContextExcludes(REPO_ROOT)].sort(), 'keep .dockerignore equal to dockerContextExcludes() (a `!folder` line per member folder)');
    for (const src of copySources()) assert.ok(lines.includes(`!${src}`), `${src} is copied but left out of the build context`);
  });

  it('one cargo line: release profile, locked, drs-worker only, no features (the test-only fault points stay out)', () => {
    const cargo = dockerfile.split('\n').filter((l) => /^\s*cargo build(\s|$)/.test(l));
    assert.equal(cargo.length, 1, 'scripts/check-worker-image.sh runs the one cargo build line of the Dockerfile');
    const words = cargo[0].replace(/\\\s*$/, '').trim().split(/\s+/);
    assert.deepEqual(words, ['cargo', 'build', '--release', '--locked', '-p', 'drs-worker']);
    assert.match(dockerfile, /&& cp target\/release\/drs-worker \/usr\/local\/bin\/drs-worker/);
  });

  it('runs as the numeric user the task definition names', () => {
    assert.match(dockerfile, /^USER 10001:10001$/m);
    assert.match(fs.readFileSync(path.join(REPO_ROOT, 'cdk', 'lib', 'drs-waves-stack.ts'), 'utf8'), /user: '10001:10001'/);
  });
});

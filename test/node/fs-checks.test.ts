import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../../src/core/errors.ts';
import { checkUsableDir, checkWritableFile, sameFile } from '../../src/node/fs-checks.ts';
import { writeWavFile } from '../../src/node/audio-file.ts';

const d = mkdtempSync(join(tmpdir(), 'seed-vc-fs-'));
after(() => rmSync(d, { recursive: true, force: true }));

test('sameFile sees through symlinked folders and hard links; writeWavFile never overwrites an input so reached', async () => {
  mkdirSync(join(d, 'real'));
  writeFileSync(join(d, 'real', 'a.wav'), 'input');
  symlinkSync(join(d, 'real'), join(d, 'link'));
  linkSync(join(d, 'real', 'a.wav'), join(d, 'hard.wav'));
  assert.equal(sameFile(join(d, 'link', 'a.wav'), join(d, 'real', 'a.wav')), true);
  assert.equal(sameFile(join(d, 'hard.wav'), join(d, 'real', 'a.wav')), true);
  assert.equal(sameFile(join(d, 'link', 'new.wav'), join(d, 'real', 'new.wav')), true, 'not yet existing, same real folder');
  assert.equal(sameFile(join(d, 'real', 'a.wav'), join(d, 'real', 'b.wav')), false);
  for (const out of [join(d, 'real', 'a.wav'), join(d, 'hard.wav')]) {
    await assert.rejects(writeWavFile(out, new Float32Array(8), 16000, { force: true, protect: [join(d, 'link', 'a.wav')] }),
      /refusing to write the output over an input file/);
  }
});

test('writability is judged without creating anything', () => {
  writeFileSync(join(d, 'file'), 'x');
  assert.throws(() => checkWritableFile(join(d, 'file', 'x.wav'), 'output'), (e) => e instanceof InvalidInputError && /cannot be created: .*file is a file, not a directory/.test(e.message));
  assert.throws(() => checkWritableFile(d, 'output'), /is a directory, not a file/);
  assert.throws(() => checkUsableDir(join(d, 'file'), '--cache-dir'), /--cache-dir .*file is not a directory/);
  checkUsableDir(join(d, 'new', 'deeper'), '--cache-dir');
  checkWritableFile(join(d, 'new', 'x.wav'), 'output');
  assert.equal(existsSync(join(d, 'new')), false, 'nothing was created');
});

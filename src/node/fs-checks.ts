/**
 * File-system checks made before any expensive work: is this the same file as that one (through
 * symlinks and hard links), and could we write here, without creating or touching anything.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { InvalidInputError } from '../core/errors.ts';

/**
 * True when `a` and `b` name the same file: the same device and inode when both exist (symlinked
 * folders, hard links), else the same resolved real path.
 */
export function sameFile(a: string, b: string): boolean {
  const sa = statOrUndefined(a);
  const sb = statOrUndefined(b);
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return realOrResolved(a) === realOrResolved(b);
}

/** Refuses `path` as a file to write unless it (or the folder it would be created in) is writable. */
export function checkWritableFile(path: string, what: string): void {
  const st = statOrUndefined(path);
  if (st) {
    if (st.isDirectory()) throw new InvalidInputError(`${what} ${path} is a directory, not a file`);
    if (!writable(path)) throw new InvalidInputError(`${what} ${path} is not writable`);
    return;
  }
  checkCreatable(resolve(path), what, path);
}

/** Refuses `path` as a folder to write in unless it is a writable folder or could be created as one. */
export function checkUsableDir(path: string, what: string): void {
  const st = statOrUndefined(path);
  if (st) {
    if (!st.isDirectory()) throw new InvalidInputError(`${what} ${path} is not a directory`);
    if (!writable(path)) throw new InvalidInputError(`${what} ${path} is not writable`);
    return;
  }
  checkCreatable(resolve(path), what, path);
}

/** The nearest existing ancestor of `abs` must be a writable folder (the rest is created when written). */
function checkCreatable(abs: string, what: string, given: string): void {
  let dir = dirname(abs);
  for (;;) {
    const st = statOrUndefined(dir);
    if (st) {
      if (!st.isDirectory()) throw new InvalidInputError(`${what} ${given} cannot be created: ${dir} is a file, not a directory`);
      if (!writable(dir)) throw new InvalidInputError(`${what} ${given} cannot be created: ${dir} is not writable`);
      return;
    }
    const up = dirname(dir);
    if (up === dir) throw new InvalidInputError(`${what} ${given} cannot be created: no existing parent folder`);
    dir = up;
  }
}

function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    // a file that does not exist yet: resolve its folder's real path, if that exists
    try {
      return resolve(realpathSync(dirname(resolve(p))), basename(p));
    } catch {
      return resolve(p);
    }
  }
}

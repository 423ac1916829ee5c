/**
 * Type and range checks for config values. Every size a YAML/JSON config names drives allocations (weight
 * shapes, filter banks, graph nodes, resampling), so each is checked against what the official models use,
 * with generous headroom, before anything is allocated. Errors name the file, the key and what is accepted.
 */
import { InvalidInputError } from '../errors.ts';

const show = (v: unknown): string => {
  if (v === undefined) return 'missing';
  const s = typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Checks the values of one config file; `source` names the file in every error. */
export class ConfigBounds {
  constructor(readonly source: string) {}

  fail(key: string, value: unknown, accepted: string): never {
    throw new InvalidInputError(`${this.source}: ${key} is ${show(value)}; accepted: ${accepted}`);
  }

  int(key: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, v, `an integer in ${min}..${max}`);
    return v as number;
  }

  num(key: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(key, v, `a number in ${min}..${max}`);
    return v as number;
  }

  intList(key: string, v: unknown, o: { min: number; max: number; minLength?: number; maxLength: number }): number[] {
    const minLength = o.minLength ?? 1;
    const ok = Array.isArray(v) && v.length >= minLength && v.length <= o.maxLength
      && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= o.min && x <= o.max);
    if (!ok) this.fail(key, v, `a list of ${minLength}..${o.maxLength} integers in ${o.min}..${o.max}`);
    return [...(v as number[])];
  }

  str(key: string, v: unknown, maxLength = 256): string {
    if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) this.fail(key, v, `a string of 1..${maxLength} characters`);
    return v as string;
  }

  bool(key: string, v: unknown): boolean {
    if (typeof v !== 'boolean') this.fail(key, v, 'true or false');
    return v as boolean;
  }
}

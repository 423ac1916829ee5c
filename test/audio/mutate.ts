/**
 * Seeded byte-level mutations for the fuzz test: flips, truncations, inserted junk, deleted or
 * repeated ranges, and header fields overwritten with the values that break naive readers.
 */
export { mulberry32 } from '../helpers/random.ts';

/** Values that make size and count fields lie in interesting ways. */
const NASTY_U32 = [0, 1, 2, 3, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 12, 16, 18, 40];

type Mutation = (b: Uint8Array, rand: () => number) => [Uint8Array, string];

const int = (rand: () => number, n: number) => Math.floor(rand() * n);

const MUTATIONS: Mutation[] = [
  (b, rand) => { // flip a few bits anywhere
    const out = b.slice();
    const n = 1 + int(rand, 8);
    const at: number[] = [];
    for (let i = 0; i < n; i++) { const p = int(rand, out.length); out[p] ^= 1 << int(rand, 8); at.push(p); }
    return [out, `flip@${at.join(',')}`];
  },
  (b, rand) => { // random byte values in the header region, where the structure lives
    const out = b.slice();
    const p = int(rand, Math.min(out.length, 128));
    out[p] = int(rand, 256);
    return [out, `byte@${p}`];
  },
  (b, rand) => { // truncate
    const n = int(rand, b.length);
    return [b.slice(0, n), `truncate@${n}`];
  },
  (b, rand) => { // insert junk
    const p = int(rand, b.length + 1);
    const junk = Uint8Array.from({ length: 1 + int(rand, 64) }, () => int(rand, 256));
    const out = new Uint8Array(b.length + junk.length);
    out.set(b.subarray(0, p)); out.set(junk, p); out.set(b.subarray(p), p + junk.length);
    return [out, `insert${junk.length}@${p}`];
  },
  (b, rand) => { // delete a range
    const p = int(rand, b.length);
    const n = 1 + int(rand, Math.min(256, b.length - p));
    const out = new Uint8Array(b.length - n);
    out.set(b.subarray(0, p)); out.set(b.subarray(p + n), p);
    return [out, `delete${n}@${p}`];
  },
  (b, rand) => { // repeat a range (duplicated frames / pages)
    const p = int(rand, b.length);
    const n = 1 + int(rand, Math.min(512, b.length - p));
    const out = new Uint8Array(b.length + n);
    out.set(b.subarray(0, p + n)); out.set(b.subarray(p), p + n);
    return [out, `repeat${n}@${p}`];
  },
  (b, rand) => { // overwrite a 16/32-bit field near the start with a nasty value
    const out = b.slice();
    const p = int(rand, Math.max(1, Math.min(out.length - 4, 96)));
    const v = NASTY_U32[int(rand, NASTY_U32.length)];
    const view = new DataView(out.buffer);
    const wide = rand() < 0.5;
    if (p + 4 <= out.length) wide ? view.setUint32(p, v, true) : view.setUint16(p, v & 0xffff, true);
    return [out, `field${wide ? 32 : 16}@${p}=${v}`];
  },
];

/** Applies one to three random mutations; returns the mutant and a readable recipe. */
export function mutate(bytes: Uint8Array, rand: () => number): { bytes: Uint8Array; recipe: string } {
  let out = bytes;
  const steps: string[] = [];
  const n = 1 + int(rand, 3);
  for (let i = 0; i < n && out.length > 0; i++) {
    const [next, label] = MUTATIONS[int(rand, MUTATIONS.length)](out, rand);
    out = next;
    steps.push(label);
  }
  return { bytes: out, recipe: steps.join(' + ') };
}

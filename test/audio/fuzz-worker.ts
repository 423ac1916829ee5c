/**
 * Worker side of the mutation fuzz (fuzz.test.ts): decodes seeded mutations of the valid files it is
 * given and reports each outcome. It runs in a worker so the test can kill it if a decode ever hangs
 * (a synchronous loop inside a wasm decoder could not be interrupted otherwise).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeAudio } from '../../src/core/audio/decode.ts';
import { AudioFormatError } from '../../src/core/errors.ts';
import { mutate, mulberry32 } from './mutate.ts';

/** What the test sends: valid files and how many mutants of each to try. */
export interface FuzzJob {
  files: { name: string; bytes: Uint8Array }[];
  mutantsPerFile: number;
  seed: number;
}

/** One report per mutant; `start` comes first so a hang can be pinned to its case. */
export type FuzzMessage =
  | { kind: 'start'; file: string; index: number; recipe: string }
  | { kind: 'done'; file: string; index: number; outcome: 'decoded' | 'rejected' | 'bad'; ms: number; detail: string }
  | { kind: 'finished' };

const job = workerData as FuzzJob;
const post = (m: FuzzMessage) => parentPort!.postMessage(m);
// The wasm decoders print every complaint with console.error; hundreds of them would bury the report.
console.error = () => undefined;

for (const { name, bytes } of job.files) {
  const rand = mulberry32(job.seed ^ hashName(name));
  for (let index = 0; index < job.mutantsPerFile; index++) {
    const { bytes: mutant, recipe } = mutate(bytes, rand);
    post({ kind: 'start', file: name, index, recipe });
    const t0 = performance.now();
    let outcome: 'decoded' | 'rejected' | 'bad';
    let detail = '';
    try {
      const audio = await decodeAudio(mutant, `mutant-${index}-${name}`);
      const problem = checkAudio(audio);
      outcome = problem ? 'bad' : 'decoded';
      detail = problem ?? `${audio.channels}ch ${audio.frames} frames @${audio.sampleRate}`;
    } catch (e) {
      const named = e instanceof AudioFormatError && e.message.startsWith(`mutant-${index}-${name}: `);
      outcome = named ? 'rejected' : 'bad';
      detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    post({ kind: 'done', file: name, index, outcome, ms: performance.now() - t0, detail });
  }
}
post({ kind: 'finished' });

/** Why a "successful" decode is not acceptable, or undefined when it is. */
function checkAudio(a: Awaited<ReturnType<typeof decodeAudio>>): string | undefined {
  if (!(a.sampleRate > 0) || !Number.isInteger(a.sampleRate)) return `sample rate ${a.sampleRate}`;
  if (a.channels !== a.channelData.length || a.channels < 1) return `channels ${a.channels} vs ${a.channelData.length} arrays`;
  if (!(a.frames > 0)) return `frames ${a.frames}`;
  for (const ch of a.channelData) {
    if (ch.length !== a.frames) return `channel length ${ch.length} != frames ${a.frames}`;
    for (let i = 0; i < ch.length; i++) if (!Number.isFinite(ch[i])) return `non-finite sample ${ch[i]} at ${i}`;
  }
  return undefined;
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

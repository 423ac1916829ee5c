/**
 * NaiveWrapper.generate on the prefill + decode graphs (nets/v2/ar.ts): one prefill over
 * [sep, cond, sep, prompt], then one decode call per token with the KV cache kept between steps, each step's
 * logits through the sampler. RoPE positions restart at the second separator; cache slots are absolute.
 * Generation stops when the end token is sampled (not emitted) or after 4000 decode steps.
 */
import { InvalidInputError } from '../../errors.ts';
import { type ArCacheLayout, type ArConfig, arCacheNames, arEndToken, arHeadDim } from '../../nets/v2/ar.ts';
import type { NetSession } from '../../runtime.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import { type ArDraws, type ArSampling, checkSampling, sampleToken } from './ar-sampler.ts';

/** The reference's decode-loop bound. */
export const AR_MAX_DECODE_STEPS = 4000;
/** The end token is suppressed while fewer than this many tokens exist. */
export const AR_MIN_TOKENS = 10;

export interface ArGenerateOptions extends ArSampling {
  draws: ArDraws;
  /** First draw index to use (draws are numbered across all AR calls of a conversion). */
  drawOffset?: number;
  maxDecodeSteps?: number;
  /** Called after each sampled token (the end token included), with the step's raw logits. */
  onStep?: (e: { step: number; token: number; logits: Float32Array; probs: Float32Array }) => void;
  signal?: AbortSignal;
}

export interface ArGenerateResult {
  tokens: Int32Array;
  /** Sampling steps taken (prefill + decode calls) = draws consumed. */
  steps: number;
  endedByEndToken: boolean;
}

/** Grows a 'fixed' cache by this many slots at a time. */
const CACHE_GROWTH = 512;

export class ArGenerator {
  constructor(
    readonly config: ArConfig,
    private readonly prefill: NetSession,
    private readonly decode: NetSession,
    readonly layout: ArCacheLayout,
  ) {}

  /** cond [1, Lc, dim] (AR length regulator output); prompt: the reference's wide ids (may be empty). */
  async generate(cond: Tensor<'float32'>, prompt: ArrayLike<number>, o: ArGenerateOptions): Promise<ArGenerateResult> {
    checkSampling(o);
    const c = this.config;
    if (cond.shape.length !== 3 || cond.shape[0] !== 1 || cond.shape[2] !== c.dim) {
      throw new InvalidInputError(`AR condition must be [1, frames, ${c.dim}] (got [${cond.shape.join(', ')}])`);
    }
    const lc = cond.shape[1], lt = prompt.length;
    const end = arEndToken(c);
    const maxSteps = o.maxDecodeSteps ?? AR_MAX_DECODE_STEPS;
    const drawOffset = o.drawOffset ?? 0;
    const ids = new BigInt64Array(lt);
    for (let i = 0; i < lt; i++) {
      const v = prompt[i];
      if (!Number.isInteger(v) || v < 0 || v >= c.vocabSize) throw new InvalidInputError(`AR prompt id ${v} at ${i} is outside [0, ${c.vocabSize})`);
      ids[i] = BigInt(v);
    }
    const out = await this.prefill.run({ cond, prompt_ids: tensor('int64', [1, lt], ids) });
    const cache = this.layout === 'fixed' ? new FixedCache(c, out) : new PastCache(c, out);

    const tokens: number[] = [];
    let position = lt; // RoPE position of the last prompt token
    let slot = lc + lt + 1; // its cache slot
    let logits = out.logits.data as Float32Array;
    let endedByEndToken = false;
    for (let step = 0; step <= maxSteps; step++) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
      const first = tokens.length ? tokens[0] : null;
      const suppress = tokens.length < AR_MIN_TOKENS ? end : null;
      const q = o.draws(drawOffset + step, c.vocabSize);
      const { token, probs } = sampleToken(logits, first, suppress, o, q);
      o.onStep?.({ step, token, logits, probs });
      if (token === end) { endedByEndToken = true; break; }
      tokens.push(token);
      if (step === maxSteps) break;
      position++;
      slot++;
      if (position >= c.maxSeqLen) {
        throw new InvalidInputError(`AR: position ${position} is beyond the model's ${c.maxSeqLen}-row RoPE table (reference too long or no end token)`);
      }
      const feeds: Record<string, Tensor> = {
        token: tensor('int64', [1, 1], BigInt64Array.of(BigInt(token))),
        position: tensor('int64', [1], BigInt64Array.of(BigInt(position))),
        ...cache.feeds(slot),
      };
      const r = await this.decode.run(feeds);
      cache.update(r, slot);
      logits = r.logits.data as Float32Array;
    }
    return { tokens: Int32Array.from(tokens), steps: tokens.length + (endedByEndToken ? 1 : 0), endedByEndToken };
  }

  async release(): Promise<void> {
    await this.prefill.release();
    await this.decode.release();
  }
}

interface KvCache {
  feeds(slot: number): Record<string, Tensor>;
  update(outputs: Record<string, Tensor>, slot: number): void;
}

/** past/present: the previous step's outputs are the next step's inputs, unchanged. */
class PastCache implements KvCache {
  private past: Record<string, Tensor> = {};
  constructor(private readonly c: ArConfig, prefill: Record<string, Tensor>) { this.take(prefill); }
  private take(r: Record<string, Tensor>): void {
    for (let i = 0; i < this.c.nLayer; i++) {
      const n = arCacheNames(i);
      this.past[n.pastK] = r[n.presentK];
      this.past[n.pastV] = r[n.presentV];
    }
  }
  feeds(): Record<string, Tensor> { return this.past; }
  update(r: Record<string, Tensor>): void { this.take(r); }
}

/** A caller-held cache of `capacity` slots per layer; each step writes its one new K/V row at `slot`. */
class FixedCache implements KvCache {
  private capacity = 0;
  private k: Float32Array[] = [];
  private v: Float32Array[] = [];
  private readonly kvH: number;
  private readonly hd: number;

  constructor(private readonly c: ArConfig, prefill: Record<string, Tensor>) {
    this.kvH = c.nLocalHeads;
    this.hd = arHeadDim(c);
    const len = prefill[arCacheNames(0).presentK].shape[2];
    this.grow(len + CACHE_GROWTH);
    for (let i = 0; i < c.nLayer; i++) {
      const n = arCacheNames(i);
      this.write(this.k[i], prefill[n.presentK].data as Float32Array, 0, len);
      this.write(this.v[i], prefill[n.presentV].data as Float32Array, 0, len);
    }
  }

  /** Copies `rows` slots of a [1, kvH, rows, hd] tensor into the cache from slot `at`. */
  private write(dst: Float32Array, src: Float32Array, at: number, rows: number): void {
    const { hd, kvH, capacity } = this;
    for (let h = 0; h < kvH; h++) dst.set(src.subarray(h * rows * hd, (h + 1) * rows * hd), (h * capacity + at) * hd);
  }

  private grow(capacity: number): void {
    const old = this.capacity;
    const { hd, kvH } = this;
    const resize = (a: Float32Array | undefined) => {
      const b = new Float32Array(kvH * capacity * hd);
      if (a) for (let h = 0; h < kvH; h++) b.set(a.subarray(h * old * hd, (h + 1) * old * hd), h * capacity * hd);
      return b;
    };
    for (let i = 0; i < this.c.nLayer; i++) { this.k[i] = resize(this.k[i]); this.v[i] = resize(this.v[i]); }
    this.capacity = capacity;
  }

  feeds(slot: number): Record<string, Tensor> {
    if (slot >= this.capacity) this.grow(this.capacity + CACHE_GROWTH);
    const shape = [1, this.kvH, this.capacity, this.hd];
    const f: Record<string, Tensor> = { slot: tensor('int64', [1], BigInt64Array.of(BigInt(slot))) };
    for (let i = 0; i < this.c.nLayer; i++) {
      const n = arCacheNames(i);
      f[n.cacheK] = tensor('float32', shape, this.k[i]);
      f[n.cacheV] = tensor('float32', shape, this.v[i]);
    }
    return f;
  }

  update(r: Record<string, Tensor>, slot: number): void {
    for (let i = 0; i < this.c.nLayer; i++) {
      const n = arCacheNames(i);
      this.write(this.k[i], r[n.newK].data as Float32Array, slot, 1);
      this.write(this.v[i], r[n.newV].data as Float32Array, slot, 1);
    }
  }
}

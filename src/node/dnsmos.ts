/**
 * DNSMOS in Node: opens the two DNSMOS ONNX models from a folder (read in place) on the CPU. The models
 * are not shipped: they are `sig_bak_ovr.onnx` and `model_v8.onnx` from the DNSMOS folder of the public
 * microsoft/DNS-Challenge repository.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../core/errors.ts';
import { type DnsmosScore, type DnsmosSessions, scoreDnsmos } from '../core/quality/dnsmos.ts';
import { nodeBackend } from './backend.ts';

export const DNSMOS_FILES = { primary: 'sig_bak_ovr.onnx', p808: 'model_v8.onnx' } as const;
export const DNSMOS_SOURCE = 'the DNSMOS folder of the public microsoft/DNS-Challenge repository';

/** The two model paths in `dir`; a one-line error naming what is missing and where to get it. */
export function dnsmosModelPaths(dir: string): { primary: string; p808: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InvalidInputError(`DNSMOS folder not found: ${dir} (it must hold ${DNSMOS_FILES.primary} and ${DNSMOS_FILES.p808} from ${DNSMOS_SOURCE})`);
  }
  const paths = { primary: join(dir, DNSMOS_FILES.primary), p808: join(dir, DNSMOS_FILES.p808) };
  const missing = Object.values(paths).filter((p) => !existsSync(p));
  if (missing.length) throw new InvalidInputError(`DNSMOS model missing: ${missing.join(', ')} (get ${DNSMOS_FILES.primary} and ${DNSMOS_FILES.p808} from ${DNSMOS_SOURCE})`);
  return paths;
}

/** A loaded DNSMOS scorer; release() when done. */
export class Dnsmos {
  private constructor(readonly sessions: DnsmosSessions, readonly paths: { primary: string; p808: string }) {}

  static async load(dir: string, options: { threads?: number } = {}): Promise<Dnsmos> {
    const paths = dnsmosModelPaths(dir);
    const primary = await nodeBackend.createSession(new Uint8Array(readFileSync(paths.primary)), { device: 'cpu', threads: options.threads, label: 'dnsmos-sig-bak-ovr' });
    try {
      const p808 = await nodeBackend.createSession(new Uint8Array(readFileSync(paths.p808)), { device: 'cpu', threads: options.threads, label: 'dnsmos-p808' });
      return new Dnsmos({ primary, p808 }, paths);
    } catch (e) {
      await primary.release();
      throw e;
    }
  }

  score(audio: { samples: Float32Array; sampleRate: number }): Promise<DnsmosScore> {
    return scoreDnsmos(audio, this.sessions);
  }

  async release(): Promise<void> {
    await Promise.all([this.sessions.primary.release(), this.sessions.p808.release()]);
  }
}

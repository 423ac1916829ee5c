/**
 * The settings of one side of an A/B comparison, written as a comma list of key=value pairs, e.g.
 * `precision=fp16,device=cuda,vocoder-fp16=true,diffusion-steps=10,inference-cfg-rate=0.5`.
 */
import { InvalidInputError } from '../errors.ts';
import type { PrecisionRequest } from '../precision.ts';

export type SideDevice = 'cpu' | 'webgpu' | 'cuda' | 'auto';

export interface SideSpec {
  precision?: PrecisionRequest;
  device?: SideDevice;
  vocoderFp16?: boolean;
  diffusionSteps?: number;
  inferenceCfgRate?: number;
}

/** The fully resolved settings of a side. */
export interface SideSettings {
  precision: PrecisionRequest;
  device: SideDevice;
  vocoderFp16: boolean;
  diffusionSteps: number;
  inferenceCfgRate: number;
}

const KEYS: Record<string, { field: keyof SideSpec; accepted: string; parse: (v: string) => SideSpec[keyof SideSpec] | undefined }> = {
  precision: { field: 'precision', accepted: 'fp32, fp16, int8, auto', parse: (v) => (['fp32', 'fp16', 'int8', 'auto'].includes(v) ? (v as PrecisionRequest) : undefined) },
  device: { field: 'device', accepted: 'cpu, webgpu, cuda, auto', parse: (v) => (['cpu', 'webgpu', 'cuda', 'auto'].includes(v) ? (v as SideDevice) : undefined) },
  'vocoder-fp16': {
    field: 'vocoderFp16', accepted: 'true, false',
    parse: (v) => (['true', '1', 'yes'].includes(v) ? true : ['false', '0', 'no'].includes(v) ? false : undefined),
  },
  'diffusion-steps': {
    field: 'diffusionSteps', accepted: 'an integer in 1..1000',
    parse: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 1000 ? Number(v) : undefined),
  },
  'inference-cfg-rate': {
    field: 'inferenceCfgRate', accepted: 'a number in 0..10',
    parse: (v) => {
      const n = Number(v);
      return v !== '' && Number.isFinite(n) && n >= 0 && n <= 10 ? n : undefined;
    },
  },
};

export const SIDE_SPEC_KEYS = Object.keys(KEYS);

/** Parses a side spec; `side` names it in errors ('--a', '--b'). An empty spec sets nothing. */
export function parseSideSpec(text: string, side = 'spec'): SideSpec {
  const spec: SideSpec = {};
  const seen = new Set<string>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) throw new InvalidInputError(`${side}: '${item}' is not key=value (keys: ${SIDE_SPEC_KEYS.join(', ')})`);
    const key = item.slice(0, eq).trim().toLowerCase().replace(/_/g, '-');
    const value = item.slice(eq + 1).trim().toLowerCase();
    const k = KEYS[key];
    if (!k) throw new InvalidInputError(`${side}: unknown key '${key}' (accepted: ${SIDE_SPEC_KEYS.join(', ')})`);
    if (seen.has(key)) throw new InvalidInputError(`${side}: '${key}' is given twice`);
    seen.add(key);
    const v = k.parse(value);
    if (v === undefined) throw new InvalidInputError(`${side}: ${key}='${value}' is not accepted (${key} takes ${k.accepted})`);
    (spec as Record<string, unknown>)[k.field] = v;
  }
  return spec;
}

/** The canonical spelling of resolved settings, e.g. "precision=fp16,device=cpu,vocoder-fp16=false,...". */
export function formatSideSettings(s: SideSettings): string {
  return `precision=${s.precision},device=${s.device},vocoder-fp16=${s.vocoderFp16},diffusion-steps=${s.diffusionSteps},inference-cfg-rate=${s.inferenceCfgRate}`;
}

/** Resolves a side: its spec's keys, then the shared options, then the side's own defaults. */
export function resolveSide(spec: SideSpec, shared: Partial<SideSettings>, defaults: SideSettings): SideSettings {
  return {
    precision: spec.precision ?? shared.precision ?? defaults.precision,
    device: spec.device ?? shared.device ?? defaults.device,
    vocoderFp16: spec.vocoderFp16 ?? shared.vocoderFp16 ?? defaults.vocoderFp16,
    diffusionSteps: spec.diffusionSteps ?? shared.diffusionSteps ?? defaults.diffusionSteps,
    inferenceCfgRate: spec.inferenceCfgRate ?? shared.inferenceCfgRate ?? defaults.inferenceCfgRate,
  };
}

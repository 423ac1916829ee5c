/**
 * The HTTP API's data shapes, as zod schemas: one source of truth for request validation, response
 * types and the OpenAPI document (src/server/openapi.ts turns these into JSON Schema). Option names
 * are Seed-VC's own snake_case flags with its defaults.
 */
import { z } from 'zod';
import { DEFAULTS, MAX_REFERENCE_SECONDS } from '../core/pipeline/convert.ts';
import { V2_DEFAULTS } from '../core/pipeline/v2/convert.ts';

const SEED_MAX = 2 ** 32 - 1;

/** Conversion options of POST /v1/conversions (multipart fields or JSON). */
export const ConversionOptions = z.strictObject({
  diffusion_steps: z.number().int().min(1).max(200).default(DEFAULTS.diffusionSteps)
    .describe(`Euler steps of the flow-matching ODE: more is slower and finer (Seed-VC: 30; 4-10 for a quick try; v2 default ${V2_DEFAULTS.diffusionSteps})`),
  length_adjust: z.number().gt(0).max(10).default(DEFAULTS.lengthAdjust)
    .describe('output duration factor: below 1 speaks faster, above 1 slower'),
  inference_cfg_rate: z.number().min(0).max(10).default(DEFAULTS.inferenceCfgRate)
    .describe('classifier-free guidance rate: how strongly the output follows the reference voice; 0 halves the work'),
  f0_condition: z.boolean().default(false)
    .describe('singing: the 44.1 kHz F0-conditioned model (pitch from RMVPE)'),
  auto_f0_adjust: z.boolean().default(DEFAULTS.autoF0Adjust)
    .describe('singing: move the source pitch median to the reference voice'),
  semi_tone_shift: z.number().int().min(-24).max(24).default(DEFAULTS.semiToneShift)
    .describe('singing: pitch shift in semitones'),
  precision: z.enum(['auto', 'fp32', 'fp16', 'int8']).optional()
    .describe("compute precision (default: the server's --precision, normally auto: fp16 on capable GPUs, fp32 on CPUs; int8: quantized linear layers on CPUs with int8 dot products)"),
  seed: z.number().int().min(0).max(SEED_MAX).optional()
    .describe('seed of the initial noise: the same seed, inputs and options give the same output (default random, reported back)'),
  model: z.enum(['offline', 'singing', 'realtime', 'v2']).optional()
    .describe('official model set (default offline, or singing with f0_condition); v2: Seed-VC v2, which takes the v2 fields instead of inference_cfg_rate and the singing fields'),
  intelligibility_cfg_rate: z.number().min(0).max(10).default(V2_DEFAULTS.intelligibilityCfgRate)
    .describe('v2: guidance toward the source content (clearer words)'),
  similarity_cfg_rate: z.number().min(0).max(10).default(V2_DEFAULTS.similarityCfgRate)
    .describe('v2: guidance toward the reference voice (closer timbre)'),
  convert_style: z.boolean().default(V2_DEFAULTS.convertStyle)
    .describe('v2: convert accent and emotion too, through the autoregressive model (slower)'),
  anonymization_only: z.boolean().default(V2_DEFAULTS.anonymizationOnly)
    .describe('v2: ignore the reference voice and speak with an anonymous one'),
  top_p: z.number().gt(0).max(1).default(V2_DEFAULTS.topP)
    .describe('v2 convert_style sampling: nucleus probability mass'),
  temperature: z.number().gt(0).max(10).default(V2_DEFAULTS.temperature)
    .describe('v2 convert_style sampling temperature'),
  repetition_penalty: z.number().min(1).max(10).default(V2_DEFAULTS.repetitionPenalty)
    .describe('v2 convert_style repetition penalty'),
  voice: z.string().regex(/^[a-z0-9-]{1,64}$/).optional()
    .describe('id of a saved voice used as the reference (instead of uploading one)'),
});
export type ConversionOptions = z.infer<typeof ConversionOptions>;

/** Fields only the v1 models take, and fields only v2 takes (the other kind is refused with a 400). */
export const V1_ONLY_FIELDS = ['inference_cfg_rate', 'f0_condition', 'auto_f0_adjust', 'semi_tone_shift'] as const;
export const V2_ONLY_FIELDS = ['intelligibility_cfg_rate', 'similarity_cfg_rate', 'convert_style', 'anonymization_only', 'top_p', 'temperature', 'repetition_penalty'] as const;

/** The multipart file fields of POST /v1/conversions (documented; parts are streamed, not JSON). */
export const ConversionUpload = ConversionOptions.extend({
  source: z.string().describe('the speech or singing to convert (WAV, FLAC, MP3, Ogg Vorbis/Opus)').meta({ format: 'binary' }),
  reference: z.string().optional().describe(`the voice to convert to (first ${MAX_REFERENCE_SECONDS} s used); or give voice`).meta({ format: 'binary' }),
});

/** POST /v1/ab: fp32 vs fp16 (or any two precisions) with the same noise. */
export const AbOptions = z.strictObject({
  diffusion_steps: ConversionOptions.shape.diffusion_steps,
  length_adjust: ConversionOptions.shape.length_adjust,
  inference_cfg_rate: ConversionOptions.shape.inference_cfg_rate,
  seed: z.number().int().min(0).max(SEED_MAX).default(1234).describe('seed of the initial noise, shared by both sides'),
  a: z.enum(['fp32', 'fp16']).default('fp32').describe('precision of side A'),
  b: z.enum(['fp32', 'fp16']).default('fp16').describe('precision of side B'),
  voice: ConversionOptions.shape.voice,
});
export type AbOptions = z.infer<typeof AbOptions>;

export const AbUpload = AbOptions.extend({
  source: ConversionUpload.shape.source,
  reference: ConversionUpload.shape.reference,
});

export const JobState = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type JobState = z.infer<typeof JobState>;

export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe('stable machine-readable code, e.g. bad_option, too_large, unsupported_audio, unprocessable_audio, queue_full, not_found, unauthorized'),
    message: z.string().describe('what was wrong and what is accepted'),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const Progress = z.object({
  stage: z.string().nullable().describe('current stage: content, speaker, f0, length_regulator, diffusion, vocoder (or load)'),
  fraction: z.number().min(0).max(1).describe('overall progress estimate, 0..1'),
  window: z.number().int().nullable().describe('current DiT window (1-based)'),
  windows: z.number().int().nullable(),
  step: z.number().int().nullable().describe('current diffusion step within the window'),
  steps: z.number().int().nullable(),
});
export type Progress = z.infer<typeof Progress>;

export const GuardEventBody = z.object({ stage: z.string(), window: z.number().int(), reason: z.string(), action: z.string() });

export const Job = z.object({
  id: z.string(),
  kind: z.enum(['conversion', 'ab']),
  state: JobState,
  created_at: z.string().describe('ISO 8601'),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  queue_position: z.number().int().nullable().describe('jobs ahead of this one while queued'),
  worker: z.string().nullable().describe('the worker that runs (or ran) the job'),
  options: z.record(z.string(), z.unknown()),
  progress: Progress,
  timings_ms: z.record(z.string(), z.number()).nullable().describe('wall time per stage'),
  rtf: z.number().nullable().describe('real-time factor: processing time / output duration'),
  seed: z.number().int().nullable(),
  guard: z.array(GuardEventBody).describe('fp16 guard events: windows recomputed in fp32'),
  result: z.object({ sample_rate: z.number().int(), samples: z.number().int(), seconds: z.number() }).nullable(),
  error: ErrorBody.shape.error.nullable(),
  links: z.record(z.string(), z.string()).describe('related URLs: events, audio or report'),
});
export type Job = z.infer<typeof Job>;

export const Accepted = z.object({ id: z.string(), state: JobState, links: z.record(z.string(), z.string()) });

export const Voice = z.object({
  id: z.string(),
  name: z.string(),
  created_at: z.string(),
  sample_rate: z.number().int(),
  seconds: z.number(),
  bytes: z.number().int(),
  container: z.string().describe('audio container sniffed from the bytes'),
});
export type Voice = z.infer<typeof Voice>;

export const VoiceUpload = z.strictObject({
  name: z.string().min(1).max(100).describe('a label for the voice'),
  audio: z.string().describe('the reference clip (WAV, FLAC, MP3, Ogg)').meta({ format: 'binary' }),
});

export const VoiceList = z.object({ voices: z.array(Voice) });

export const AudioQuery = z.strictObject({
  format: z.enum(['float32', 'pcm16']).default('float32').describe('WAV sample format'),
  download: z.enum(['0', '1']).optional().describe('1: send Content-Disposition attachment'),
});

export const Health = z.object({
  status: z.literal('ok'),
  uptime_s: z.number(),
  queue: z.object({ queued: z.number().int(), running: z.number().int(), capacity: z.number().int(), workers: z.number().int(), backend: z.string() }),
});

export const Models = z.object({
  default: z.string(),
  custom_checkpoint: z.boolean().describe('the server was started with --checkpoint/--config'),
  precision: z.string(),
  device: z.string(),
  sets: z.array(z.object({ id: z.string(), title: z.string(), checkpoint: z.string(), config: z.string() })),
  limits: z.object({
    max_upload_bytes: z.number().int(), max_source_seconds: z.number(), max_reference_seconds: z.number(),
    min_seconds: z.number(), max_diffusion_steps: z.number().int(), queue_capacity: z.number().int(), result_ttl_s: z.number(),
  }),
  defaults: z.record(z.string(), z.unknown()),
});

/** Field types of an object schema, from its JSON Schema: how to read multipart text fields. */
export function fieldTypes(schema: z.ZodObject): Record<string, 'integer' | 'number' | 'boolean' | 'string'> {
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, { type?: string }> };
  const out: Record<string, 'integer' | 'number' | 'boolean' | 'string'> = {};
  for (const [k, v] of Object.entries(js.properties ?? {})) {
    out[k] = v.type === 'integer' || v.type === 'number' || v.type === 'boolean' ? v.type : 'string';
  }
  return out;
}

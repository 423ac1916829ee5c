/**
 * API errors: every failure leaves the server as JSON {error: {code, message}} with a status that says
 * whose fault it was. Library errors keep their message (it names the problem and what is accepted);
 * anything unexpected becomes a 500 with a generic message — never a stack trace.
 */
import { z } from 'zod';
import { AudioFormatError, CheckpointError, InvalidInputError, ModelMismatchError, SeedVcError } from '../core/errors.ts';

export type ErrorCode =
  | 'bad_option' | 'missing_field' | 'unauthorized' | 'not_found' | 'too_large' | 'unsupported_media_type'
  | 'unsupported_audio' | 'unprocessable_audio' | 'queue_full' | 'conflict' | 'cancelled' | 'worker_crashed'
  | 'model_error' | 'internal' | 'range_not_satisfiable' | 'method_not_allowed';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: ErrorCode, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badOption = (message: string) => new ApiError(400, 'bad_option', message);
export const notFound = (what: string) => new ApiError(404, 'not_found', what);

/** One readable line from a zod error: "diffusion_steps: Too small: expected number to be >=1; ...". */
export function zodMessage(e: z.ZodError, where = ''): string {
  return e.issues.map((i) => {
    const path = i.path.join('.');
    if (i.code === 'unrecognized_keys') return `${where}unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}`;
    return `${where}${path ? `${path}: ` : ''}${i.message}`;
  }).join('; ');
}

/** The status and body of any error thrown while handling a request. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof z.ZodError) return badOption(zodMessage(e));
  if (e instanceof AudioFormatError) return new ApiError(415, 'unsupported_audio', e.message);
  if (e instanceof InvalidInputError) return new ApiError(422, 'unprocessable_audio', e.message);
  if (e instanceof CheckpointError || e instanceof ModelMismatchError) return new ApiError(500, 'model_error', e.message);
  if (e instanceof SeedVcError) return new ApiError(400, 'bad_option', e.message);
  // Fastify's own errors carry a statusCode and a code (FST_ERR_...): map the ones clients cause.
  const fe = e as { statusCode?: number; code?: string; message?: string };
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const status = fe.statusCode;
    const code: ErrorCode = status === 413 ? 'too_large' : status === 415 ? 'unsupported_media_type' : status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : 'bad_option';
    return new ApiError(status, code, cleanFastifyMessage(fe.message ?? 'bad request'));
  }
  return new ApiError(500, 'internal', 'internal error (see the server log)');
}

function cleanFastifyMessage(m: string): string {
  return m.replace(/^FST_[A-Z_]+:\s*/, '').split('\n')[0];
}

export function errorBody(e: ApiError): { error: { code: string; message: string } } {
  return { error: { code: e.code, message: e.message } };
}

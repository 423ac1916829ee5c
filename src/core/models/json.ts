/** A JSON config (text or already parsed) as an object; malformed text names the file. */
import { InvalidInputError } from '../errors.ts';

export function parseJsonObject(json: unknown, source: string): Record<string, unknown> {
  let obj: unknown = json;
  if (typeof json === 'string') {
    try { obj = JSON.parse(json); } catch (e) { throw new InvalidInputError(`${source}: not valid JSON (${(e as Error).message})`); }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InvalidInputError(`${source}: expected a JSON object`);
  return obj as Record<string, unknown>;
}

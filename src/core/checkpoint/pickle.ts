/**
 * A restricted unpickler: it reads the pickle opcodes of protocols 0-5 into plain JavaScript values and
 * never executes anything. A GLOBAL (or STACK_GLOBAL) resolves only through the allow-list the caller
 * passes, where each name maps to the JavaScript function that stands for calling it; any other name
 * is refused. Every length is checked against the remaining input before it is used, and the stack,
 * MARK nesting, memo and object count are bounded, so malformed input ends in a CheckpointError.
 *
 * Value mapping: dict and OrderedDict -> Map (insertion-ordered, keys as unpickled); list -> Array;
 * tuple -> frozen Array; set / frozenset -> Set; str -> string; bytes / bytearray -> Uint8Array; int -> number when it
 * is a safe integer, bigint otherwise; float -> number; None -> null; bool -> boolean; an allowed
 * global that is never called stays a PickleGlobal.
 */
import { CheckpointError } from '../errors.ts';

/** What an allowed global stands for: called by REDUCE (`f(*args)`) and NEWOBJ (`cls.__new__(cls, *args)`). */
export type PickleCallable = (args: unknown[]) => unknown;

/** A reference to an allowed global, as pushed by GLOBAL / STACK_GLOBAL. */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string, readonly call: PickleCallable | undefined) {}
  /** The dotted name, e.g. `collections.OrderedDict`. */
  get qualifiedName(): string { return `${this.module}.${this.name}`; }
}

/**
 * Objects that accept BUILD (`obj.__setstate__(state)`) implement this symbol. BUILD on a Map (a dict
 * subclass carrying instance attributes, like a state_dict's `_metadata`) drops the state; BUILD on
 * anything else is an error.
 */
export const SET_STATE: unique symbol = Symbol('pickle.setState');

export interface PickleLimits {
  /** Most values on the stack at once (torch batches SETITEMS by 1000, so real pickles stay far below). */
  maxStack: number;
  /** Deepest MARK nesting. */
  maxMarkDepth: number;
  /** Most memo entries. */
  maxMemo: number;
  /** Most values created in total. */
  maxObjects: number;
  /** Longest LONG1/LONG4 integer, in bytes. */
  maxLongBytes: number;
  /** Longest text line (protocol 0 opcodes, GLOBAL names). */
  maxLineLength: number;
}

/** Generous for any torch.save pickle; every limit can be raised per call. */
export const DEFAULT_PICKLE_LIMITS: PickleLimits = {
  maxStack: 100_000, maxMarkDepth: 1000, maxMemo: 1 << 22, maxObjects: 1 << 26, maxLongBytes: 4096, maxLineLength: 65536,
};

export interface UnpickleOptions {
  /** File name used in error messages. */
  file: string;
  /** Part of the file being read, e.g. `data.pkl` inside a zip, for error messages. */
  part?: string;
  /** Allowed globals by dotted name (`module.name`); the function is what calling the global does. */
  globals: Readonly<Record<string, PickleCallable | null>>;
  /** Resolves persistent ids (PERSID / BINPERSID); without it they are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  limits?: Partial<PickleLimits>;
}

/** Unpickles `bytes` under the allow-list in `options`; throws CheckpointError on anything malformed or refused. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
  const where = options.part ? `${options.part}: ` : '';
  const len = bytes.byteLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  let pos = 0;
  let opStart = 0;
  let op = 0;
  const fail = (problem: string, cause?: unknown): never => {
    throw new CheckpointError(options.file, `${where}pickle: ${problem} (at byte ${opStart})`, cause === undefined ? undefined : { cause });
  };
  const opName = () => OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;

  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let objects = 0;

  const need = (n: number, what: string) => {
    if (n > len - pos) fail(`truncated: ${opName()} needs ${n} bytes for its ${what}, ${len - pos} remain`);
  };
  const u8 = () => { need(1, 'argument'); return bytes[pos++]; };
  const u16 = () => { need(2, 'argument'); const v = view.getUint16(pos, true); pos += 2; return v; };
  const i32 = () => { need(4, 'argument'); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u32 = () => { need(4, 'argument'); const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8, 'length');
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    pos += 8;
    // Anything past 2^53 is certainly past the end of the input; report it as such rather than lose precision.
    return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x100000000 + lo;
  };
  const take = (n: number, what: string) => { need(n, what); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated: ${opName()} argument has no terminating newline`);
    if (end - pos > limits.maxLineLength) fail(`${opName()} argument longer than ${limits.maxLineLength} bytes`);
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const text = (b: Uint8Array): string => {
    try { return utf8.decode(b); } catch { return fail(`${opName()} string is not valid UTF-8`); }
  };

  const push = (v: unknown) => {
    if (stack.length >= limits.maxStack) fail(`stack deeper than ${limits.maxStack} values`);
    stack.push(v);
  };
  const created = (v: unknown) => {
    if (++objects > limits.maxObjects) fail(`more than ${limits.maxObjects} objects`);
    push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail(`${opName()} on an empty stack`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(`${opName()} on an empty stack`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) return fail(`${opName()} without a MARK`);
    stack = prev;
    return items;
  };
  const memoPut = (key: number) => {
    const v = top();
    if (!memo.has(key) && memo.size >= limits.maxMemo) fail(`memo larger than ${limits.maxMemo} entries`);
    memo.set(key, v);
  };
  const memoGet = (key: number) => {
    if (!memo.has(key)) fail(`memo key ${key} was never stored`);
    push(memo.get(key));
  };
  const resolve = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    if (!Object.prototype.hasOwnProperty.call(options.globals, qualified)) {
      fail(`refused global '${qualified}' (allowed: ${Object.keys(options.globals).join(', ')})`);
    }
    return new PickleGlobal(module, name, options.globals[qualified] ?? undefined);
  };
  const call = (fn: unknown, args: unknown, how: string): unknown => {
    if (!(fn instanceof PickleGlobal)) return fail(`${how} on a ${describe(fn)}, not an allowed global`);
    if (!fn.call) return fail(`${how}: '${fn.qualifiedName}' is allowed as a value but cannot be called`);
    if (!Array.isArray(args)) return fail(`${how} of '${fn.qualifiedName}' with ${describe(args)} arguments instead of a tuple`);
    try {
      return fn.call(args);
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      return fail(`${fn.qualifiedName}(...) failed: ${(err as Error)?.message ?? String(err)}`, err);
    }
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail(`${opName()} on a ${describe(target)}, not a dict`);
    if (items.length % 2) fail(`${opName()} with an odd number of items (${items.length})`);
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const persistent = (pid: unknown) => {
    if (!options.persistentLoad) return fail('persistent id found but this file type takes none');
    try {
      return options.persistentLoad(pid);
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      return fail(`persistent id could not be resolved: ${(err as Error)?.message ?? String(err)}`, err);
    }
  };

  for (;;) {
    if (pos >= len) fail(len === 0 ? 'empty input' : 'truncated: input ends before STOP');
    opStart = pos;
    op = bytes[pos++];
    switch (op) {
      // ---- framing and protocol
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v} (0-5 are understood)`);
        break;
      }
      case 0x95: { // FRAME: a length prefix we only validate; opcodes are read the same either way
        const n = u64();
        if (n > len - pos) fail(`truncated: FRAME of ${n} bytes, ${len - pos} remain`);
        break;
      }
      case 0x2e: { // STOP
        const result = pop();
        if (metastack.length) fail('STOP inside an unclosed MARK');
        return result;
      }

      // ---- stack manipulation
      case 0x28: // MARK
        if (metastack.length >= limits.maxMarkDepth) fail(`MARK nesting deeper than ${limits.maxMarkDepth}`);
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP

      // ---- constants and numbers
      case 0x4e: created(null); break; // NONE
      case 0x88: created(true); break; // NEWTRUE
      case 0x89: created(false); break; // NEWFALSE
      case 0x4b: created(u8()); break; // BININT1
      case 0x4d: created(u16()); break; // BININT2
      case 0x4a: created(i32()); break; // BININT
      case 0x8a: created(decodeLong(take(checkLong(u8()), 'integer'))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail(`LONG4 with negative length ${n}`);
        created(decodeLong(take(checkLong(n), 'integer')));
        break;
      }
      case 0x47: { // BINFLOAT: big-endian float64
        need(8, 'value');
        created(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x49: { // INT (text); "00"/"01" are the protocol-0 booleans
        const s = line();
        if (s === '00' || s === '01') created(s === '01');
        else created(parseIntText(s));
        break;
      }
      case 0x4c: { // LONG (text), optional trailing L
        created(parseIntText(stripLongSuffix(line())));
        break;
      }
      case 0x46: { // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (!/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan|infinity)$/i.test(s)) fail(`FLOAT argument '${s}' is not a number`);
        created(/nan/i.test(s) ? NaN : /inf/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : v);
        break;
      }

      // ---- strings and bytes
      case 0x58: created(text(take(u32(), 'string'))); break; // BINUNICODE
      case 0x8c: created(text(take(u8(), 'string'))); break; // SHORT_BINUNICODE
      case 0x8d: created(text(take(u64(), 'string'))); break; // BINUNICODE8
      case 0x56: created(rawUnicodeEscape(line())); break; // UNICODE (text)
      case 0x42: created(take(u32(), 'bytes').slice()); break; // BINBYTES
      case 0x43: created(take(u8(), 'bytes').slice()); break; // SHORT_BINBYTES
      case 0x8e: created(take(u64(), 'bytes').slice()); break; // BINBYTES8
      case 0x96: created(take(u64(), 'bytes').slice()); break; // BYTEARRAY8
      case 0x54: { // BINSTRING (py2 str): signed length
        const n = i32();
        if (n < 0) fail(`BINSTRING with negative length ${n}`);
        created(latin1(take(n, 'string')));
        break;
      }
      case 0x55: created(latin1(take(u8(), 'string'))); break; // SHORT_BINSTRING
      case 0x53: created(pyStringLiteral(line())); break; // STRING (text, quoted)

      // ---- containers
      case 0x29: created(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x5d: created([]); break; // EMPTY_LIST
      case 0x7d: created(new Map()); break; // EMPTY_DICT
      case 0x8f: created(new Set()); break; // EMPTY_SET
      case 0x85: { const a = pop(); created(Object.freeze([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); created(Object.freeze([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); created(Object.freeze([a, b, c])); break; } // TUPLE3
      case 0x74: created(Object.freeze(popMark())); break; // TUPLE
      case 0x6c: created(popMark()); break; // LIST
      case 0x91: created(new Set(popMark())); break; // FROZENSET
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); created(d); break; } // DICT
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) fail(`APPEND to a ${describe(list)}, not a list`);
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) fail(`APPENDS to a ${describe(list)}, not a list`);
        for (const v of items) (list as unknown[]).push(v);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof Set)) fail(`ADDITEMS to a ${describe(set)}, not a set`);
        for (const v of items) (set as Set<unknown>).add(v);
        break;
      }

      // ---- memo
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x70: memoPut(parseMemoKey(line())); break; // PUT (text)
      case 0x68: memoGet(u8()); break; // BINGET
      case 0x6a: memoGet(u32()); break; // LONG_BINGET
      case 0x67: memoGet(parseMemoKey(line())); break; // GET (text)

      // ---- globals and calls (resolved through the allow-list only)
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        created(resolve(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings on the stack');
        created(resolve(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        created(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        created(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: { // NEWOBJ_EX: keyword arguments are not supported by any allowed global
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size) fail('NEWOBJ_EX with keyword arguments is not supported');
        created(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x69: { // INST "module\nname\n" + MARK args
        const module = line();
        const name = line();
        const g = resolve(module, name);
        created(call(g, popMark(), 'INST'));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args...
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        created(call(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof Map) break; // instance attributes of a dict subclass (state_dict._metadata): dropped
        if (typeof obj === 'object' && obj !== null && SET_STATE in obj) {
          try {
            (obj as { [SET_STATE]: (s: unknown) => void })[SET_STATE](state);
          } catch (err) {
            if (err instanceof CheckpointError) throw err;
            fail(`BUILD failed: ${(err as Error)?.message ?? String(err)}`, err);
          }
          break;
        }
        fail(`BUILD on a ${describe(obj)} is not supported`);
        break;
      }
      case 0x51: created(persistent(pop())); break; // BINPERSID
      case 0x50: created(persistent(line())); break; // PERSID (text)

      // ---- refused: need state from outside the pickle
      case 0x82: case 0x83: case 0x84:
        fail(`${opName()} (copyreg extension registry) is not supported`);
        break;
      case 0x97: case 0x98:
        fail(`${opName()} (out-of-band buffers) is not supported`);
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}${op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''}`);
    }
  }

  function checkLong(n: number): number {
    if (n > limits.maxLongBytes) fail(`${opName()} integer of ${n} bytes exceeds the limit of ${limits.maxLongBytes}`);
    return n;
  }
  function parseIntText(s: string): number | bigint {
    const t = s.trim();
    if (!/^[+-]?\d+$/.test(t) || t.length > limits.maxLongBytes) fail(`${opName()} argument '${t.slice(0, 40)}' is not an integer`);
    return normalizeInt(BigInt(t));
  }
  function stripLongSuffix(s: string): string {
    return s.endsWith('L') ? s.slice(0, -1) : s;
  }
  function parseMemoKey(s: string): number {
    if (!/^\d{1,10}$/.test(s)) fail(`${opName()} argument '${s.slice(0, 40)}' is not a memo index`);
    return Number(s);
  }
  function pyStringLiteral(s: string): string {
    const q = s[0];
    if (s.length < 2 || (q !== '"' && q !== "'") || s[s.length - 1] !== q) fail('STRING argument is not a quoted string');
    return unescapePy(s.slice(1, -1));
  }
  function unescapePy(s: string): string {
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c !== '\\') { out += c; continue; }
      const n = s[++i];
      const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
      if (n !== undefined && n in simple) { out += simple[n]; continue; }
      if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) { out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; continue; }
      const oct = /^[0-7]{1,3}/.exec(s.slice(i, i + 3));
      if (oct) { out += String.fromCharCode(parseInt(oct[0], 8) & 0xff); i += oct[0].length - 1; continue; }
      out += '\\' + (n ?? '');
    }
    return out;
  }
  function rawUnicodeEscape(s: string): string {
    // raw-unicode-escape: only \uXXXX and \UXXXXXXXX are escapes; the rest is latin-1.
    return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (m, a: string | undefined, b: string | undefined) => {
      const cp = parseInt(a ?? b!, 16);
      if (cp > 0x10ffff) fail(`UNICODE escape ${m} is not a code point`);
      return String.fromCodePoint(cp);
    });
  }
}

/** Little-endian two's-complement integer (LONG1/LONG4 payload) as a number when safe, else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return normalizeInt(v);
}

function normalizeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** A short description of a value's Python-ish type for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PickleGlobal) return `global '${v.qualifiedName}'`;
  if (typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v) return 'tensor';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PickleGlobal, unpickle } from '../../src/core/checkpoint/pickle.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { PickleWriter, concat } from './fixtures.ts';

const enc = new TextEncoder();
const ORDERED = { 'collections.OrderedDict': (args: unknown[]) => new Map(args.length ? (args[0] as [unknown, unknown][]) : []) };
const load = (b: Uint8Array, globals: Record<string, ((a: unknown[]) => unknown) | null> = ORDERED) => unpickle(b, { file: 'x.pkl', globals });

function throwsCheckpoint(fn: () => unknown, re: RegExp, label?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `${label ?? re}: got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.match(e.message, /^x\.pkl: /, label);
    assert.match(e.message, re, label);
    return true;
  }, label);
}

test('protocol 2 values: numbers, strings, bytes, constants, nested list/tuple/dict, memo', () => {
  const w = new PickleWriter().proto(2).op('}').put(0).mark();
  w.str('ints').mark().int(7).int(300).int(70000).int(-5).long(2n ** 70n).long(-(2n ** 40n)).long(0n).op('l').put(1);
  w.str('float').float(-1.25);
  w.str('text').str('héllo ✓');
  w.str('bytes').bytesObj(new Uint8Array([1, 2, 255]));
  w.str('consts').none().bool(true).bool(false).tuple(3);
  w.str('nested').op(']').mark().int(1).mark().int(2).str('x').op('t').op('e').tuple(1);
  w.str('again').get(1);
  w.op('u').stop();
  const v = load(w.bytes()) as Map<string, unknown>;
  assert.ok(v instanceof Map);
  assert.deepEqual([...v.keys()], ['ints', 'float', 'text', 'bytes', 'consts', 'nested', 'again']);
  assert.deepEqual(v.get('ints'), [7, 300, 70000, -5, 2n ** 70n, -(2 ** 40), 0]);
  assert.equal(v.get('float'), -1.25);
  assert.equal(v.get('text'), 'héllo ✓');
  assert.deepEqual([...(v.get('bytes') as Uint8Array)], [1, 2, 255]);
  assert.deepEqual(v.get('consts'), [null, true, false]);
  assert.deepEqual(v.get('nested'), [[1, [2, 'x']]]);
  assert.ok(Object.isFrozen(v.get('consts')), 'tuples are frozen arrays');
  assert.ok(!Object.isFrozen((v.get('nested') as unknown[])[0]), 'lists are not');
  assert.equal(v.get('again'), v.get('ints'), 'BINGET returns the same object');
});

test('protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, OrderedDict; protocol 5 opcodes', () => {
  const body = new PickleWriter().stackGlobal('collections', 'OrderedDict').raw(0x94).tuple(0).op('R').raw(0x94)
    .shortStr('k').raw(0x94).raw(0x8f).raw(0x94).mark().int(1).int(2).raw(0x90).op('s')
    .shortStr('fs').mark().int(3).raw(0x91).op('s')
    .shortStr('ba').raw(0x96, 2, 0, 0, 0, 0, 0, 0, 0, 9, 8).op('s')
    .shortStr('k2').get(3).op('s').stop().bytes();
  const frame = concat([[0x80, 4, 0x95], new Uint8Array(new BigUint64Array([BigInt(body.length)]).buffer), body]);
  const v = load(frame) as Map<string, unknown>;
  assert.deepEqual([...v.keys()], ['k', 'fs', 'ba', 'k2']);
  assert.deepEqual([...(v.get('k') as Set<number>)], [1, 2]);
  assert.deepEqual([...(v.get('fs') as Set<number>)], [3]);
  assert.deepEqual([...(v.get('ba') as Uint8Array)], [9, 8]);
  assert.equal(v.get('k2'), v.get('k'));
});

test('protocol 0 text opcodes', () => {
  const p0 = enc.encode("((dp0\nS'a\\n\\x41'\np1\nI42\nsVcaf\\u00e9\np2\nL-12345678901234567890L\nsS\"f\"\nF2.5\nsI01\n(lp3\nI1\naI2\nastp4\n.");
  // the outer (...t wraps the dict in a 1-tuple; `I01` is True used as a dict key
  const v = load(p0) as unknown[];
  const d = v[0] as Map<unknown, unknown>;
  assert.equal(d.get('a\n\x41'), 42);
  assert.equal(d.get('café'), -12345678901234567890n);
  assert.equal(d.get('f'), 2.5);
  assert.deepEqual(d.get(true), [1, 2]);
});

test('only allow-listed globals resolve; REDUCE calls the caller-supplied function', () => {
  const calls: unknown[][] = [];
  const g = { 'my.mod.Thing': (args: unknown[]) => { calls.push(args); return { made: args[0] }; }, 'my.mod.Value': null };
  const b = new PickleWriter().proto(2).global('my.mod', 'Thing').int(5).tuple(1).op('R').global('my.mod', 'Value').tuple(2).stop().bytes();
  const v = load(b, g) as [unknown, PickleGlobal];
  assert.deepEqual(v[0], { made: 5 });
  assert.deepEqual(calls, [[5]]);
  assert.ok(v[1] instanceof PickleGlobal);
  assert.equal(v[1].qualifiedName, 'my.mod.Value');
  // a value-only global cannot be called
  throwsCheckpoint(() => load(new PickleWriter().proto(2).global('my.mod', 'Value').tuple(0).op('R').stop().bytes(), g), /cannot be called/);
  // REDUCE on a non-global
  throwsCheckpoint(() => load(new PickleWriter().proto(2).int(1).tuple(0).op('R').stop().bytes()), /REDUCE on a number/);
});

test('refused globals: os.system, builtins.eval, subprocess.Popen via GLOBAL and STACK_GLOBAL', () => {
  const allowed = { 'collections.OrderedDict': null, 'torch._utils._rebuild_tensor_v2': null };
  for (const [m, n] of [['os', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['posix', 'system'], ['builtins', 'getattr']]) {
    const viaGlobal = new PickleWriter().proto(2).global(m, n).str('echo pwned').tuple(1).op('R').stop().bytes();
    const viaStack = new PickleWriter().proto(4).stackGlobal(m, n).str('echo pwned').tuple(1).op('R').stop().bytes();
    const re = new RegExp(`refused global '${m}\\.${n}' \\(allowed: collections\\.OrderedDict, torch\\._utils\\._rebuild_tensor_v2\\)`);
    throwsCheckpoint(() => load(viaGlobal, allowed), re, `GLOBAL ${m}.${n}`);
    throwsCheckpoint(() => load(viaStack, allowed), re, `STACK_GLOBAL ${m}.${n}`);
  }
  // INST and OBJ go through the same allow-list
  throwsCheckpoint(() => load(concat([[0x80, 2, 0x28], enc.encode('ios\nsystem\n'), [0x2e]]), allowed), /refused global 'os\.system'/);
  // prototype names are not "allowed" by accident
  throwsCheckpoint(() => load(new PickleWriter().proto(2).global('', 'constructor').stop().bytes(), {}), /refused global/);
  throwsCheckpoint(() => load(new PickleWriter().proto(2).global('__proto__', 'toString').stop().bytes(), {}), /refused global/);
});

test('malformed pickles end in CheckpointError', () => {
  const P = () => new PickleWriter().proto(2);
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /empty input/],
    ['never STOPs', P().op('}').put(0).str('a').int(1).op('s').bytes(), /input ends before STOP/],
    ['only PROTO', new Uint8Array([0x80]), /truncated: PROTO needs 1 bytes/],
    ['bad opcode', P().raw(0xff).stop().bytes(), /unknown opcode 0xff/],
    ['bad printable opcode', P().op('Z').stop().bytes(), /unknown opcode 0x5a \('Z'\)/],
    ['protocol 9', new Uint8Array([0x80, 9, 0x2e]), /unsupported pickle protocol 9/],
    ['missing memo key', P().get(7).stop().bytes(), /memo key 7 was never stored/],
    ['missing long memo key', P().get(70000).stop().bytes(), /memo key 70000 was never stored/],
    ['BINUNICODE longer than input', concat([[0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f], enc.encode('abc')]), /BINUNICODE needs 2147483647 bytes for its string, 3 remain/],
    ['BINBYTES8 huge', concat([[0x80, 4, 0x8e], new Array(8).fill(0xff), [0x2e]]), /BINBYTES8 needs \d+ bytes/],
    ['FRAME huge', concat([[0x80, 4, 0x95], new Array(8).fill(0x7f), [0x2e]]), /FRAME of \d+ bytes/],
    ['LONG4 huge', new Uint8Array([0x80, 2, 0x8b, 0, 0, 0, 0x10, 0x2e]), /LONG4 integer of \d+ bytes exceeds/],
    ['LONG4 negative', new Uint8Array([0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff, 0x2e]), /negative length/],
    ['invalid utf-8', new Uint8Array([0x80, 2, 0x58, 2, 0, 0, 0, 0xc3, 0x28, 0x2e]), /not valid UTF-8/],
    ['STOP on empty stack', new Uint8Array([0x80, 2, 0x2e]), /STOP on an empty stack/],
    ['SETITEM on a list', P().op(']').int(1).int(2).op('s').stop().bytes(), /SETITEM on a list, not a dict/],
    ['APPEND to a tuple', P().tuple(0).int(1).op('a').stop().bytes(), /APPEND to a tuple/],
    ['TUPLE without MARK', P().int(1).op('t').stop().bytes(), /TUPLE without a MARK/],
    ['SETITEMS odd', P().op('}').mark().int(1).op('u').stop().bytes(), /odd number of items/],
    ['STOP inside MARK', P().mark().int(1).stop().bytes(), /STOP inside an unclosed MARK/],
    ['GLOBAL without newline', concat([[0x80, 2, 0x63], enc.encode('os')]), /no terminating newline/],
    ['STACK_GLOBAL of ints', P().int(1).int(2).raw(0x93).stop().bytes(), /STACK_GLOBAL needs two strings/],
    ['persistent id without loader', P().str('x').op('Q').stop().bytes(), /persistent id found/],
    ['ext registry', new Uint8Array([0x80, 2, 0x82, 1, 0x2e]), /EXT1 \(copyreg extension registry\)/],
    ['out-of-band buffer', new Uint8Array([0x80, 5, 0x97, 0x2e]), /NEXT_BUFFER \(out-of-band buffers\)/],
    ['BUILD on a number', P().int(1).op('}').op('b').stop().bytes(), /BUILD on a number is not supported/],
    ['text INT garbage', enc.encode('I12x\n.'), /INT argument '12x' is not an integer/],
    ['text FLOAT garbage', enc.encode('Fabc\n.'), /FLOAT argument 'abc' is not a number/],
  ];
  for (const [label, bytes, re] of cases) throwsCheckpoint(() => load(bytes), re, label);
});

test('nesting bombs hit the stack and MARK limits instead of exhausting memory', () => {
  const marks = new Uint8Array(200_000).fill(0x28);
  throwsCheckpoint(() => load(concat([[0x80, 2], marks, [0x2e]])), /MARK nesting deeper than 1000/);
  const lists = new Uint8Array(200_000).fill(0x5d);
  throwsCheckpoint(() => load(concat([[0x80, 2], lists, [0x2e]])), /stack deeper than 100000 values/);
  // memo-chained nesting (constant stack) builds a deep structure legally; the limit is object count
  const chain: number[] = [0x80, 2, 0x5d, 0x94];
  for (let i = 0; i < 5000; i++) chain.push(0x5d, 0x6a, ...new Uint8Array(new Uint32Array([i]).buffer), 0x61, 0x94);
  chain.push(0x2e);
  let depth = 0;
  for (let v = load(new Uint8Array(chain)) as unknown[]; Array.isArray(v) && v.length; v = v[0] as unknown[]) depth++;
  assert.equal(depth, 5000);
  throwsCheckpoint(() => unpickle(new Uint8Array(chain), { file: 'x.pkl', globals: {}, limits: { maxObjects: 100 } }), /more than 100 objects/);
  throwsCheckpoint(() => unpickle(new Uint8Array(chain), { file: 'x.pkl', globals: {}, limits: { maxMemo: 10 } }), /memo larger than 10 entries/);
});

test('truncating a valid pickle at every byte gives a CheckpointError, never a hang', () => {
  const full = new PickleWriter().proto(2).orderedDict().put(0).mark().str('a').global('collections', 'OrderedDict').tuple(0).op('R')
    .str('b').float(1.5).str('c').long(2n ** 80n).op('u').stop().bytes();
  assert.ok(load(full) instanceof Map);
  for (let n = 0; n < full.length; n++) throwsCheckpoint(() => load(full.subarray(0, n)), /truncated|empty|STOP|MARK/, `cut at ${n}`);
});

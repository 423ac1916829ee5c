/**
 * Cancelling work inside the Web Worker. `session.run` on WASM holds the worker's thread until it returns,
 * so a cancel message from the page waits in the worker's task queue; the gate gives the event loop a turn
 * (a macrotask, not a microtask) before every session run — each DiT step, content window and vocoder
 * call — and then stops the run if its signal was aborted meanwhile. That works with or without
 * cross-origin isolation, and the sessions stay usable for the next conversion.
 */
import type { NetSession } from '../core/runtime.ts';

/** Resolves on the next macrotask (a MessageChannel round trip: no timer clamping, messages queued before it run first). */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
    ch.port2.postMessage(0);
  });
}

/** The signal of the request running now; `pass()` is awaited before each session run. */
export class RunGate {
  signal: AbortSignal | undefined;

  async pass(): Promise<void> {
    this.signal?.throwIfAborted();
    await nextTask();
    this.signal?.throwIfAborted();
  }
}

/** The session, with the gate passed before each run (other members, including optional ones, forwarded). */
export function gatedSession<S extends NetSession>(session: S, gate: RunGate): S {
  return new Proxy(session, {
    get(target, prop, receiver) {
      if (prop === 'run' || prop === 'runOnDevice') {
        const fn = Reflect.get(target, prop, receiver) as ((...a: unknown[]) => Promise<unknown>) | undefined;
        if (!fn) return undefined;
        return async (...args: unknown[]) => { await gate.pass(); return fn.apply(target, args); };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

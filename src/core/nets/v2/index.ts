/** Seed-VC v2 network builders (HuBERT, ASTRAL extractors, length regulator, DiT). */
export * from './hubert.ts';
export * from './astral.ts';
export * from './length-regulator.ts';
export * from './dit.ts';
export * from './ar.ts';

/** Network builders: one per Seed-VC network, each mirroring its reference module tree. */
export * from './weights.ts';
export * from './dit.ts';
export * from './length-regulator.ts';
export * from './campplus.ts';
export * from './bigvgan.ts';
export * from './hift.ts';
export * from './rmvpe.ts';
export * from './whisper-encoder.ts';
export * from './wav2vec2.ts';
export * from './v2/index.ts';

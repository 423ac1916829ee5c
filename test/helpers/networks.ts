/**
 * Every network of every official model set, on the tiny files of the golden hub mirror, read through the
 * network registry (so a network added there is checked by the precision-policy and graph-fingerprint tests).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MODEL_SETS } from '../../src/core/models/catalog.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { type ModelFileSource, type NetworkSpec, familyOf } from '../../src/core/models/registry.ts';
import { SEED_VC_V2 } from '../../src/core/models/v2-registry.ts';
import { parseV2WrapperConfig } from '../../src/core/models/v2-config.ts';
import type { GraphBuilder } from '../../src/core/onnx/graph.ts';
import type { Precision } from '../../src/core/onnx/nn.ts';
import { GOLDEN, HUB } from './golden.ts';

export const NETWORKS: Record<string, { build: (p: Precision) => GraphBuilder; bigvgan: boolean }> = {};
const seenSources = new Set<string>();

/**
 * Resolves a family's files in the golden hub (the first alternative that exists), lays the family out and records
 * each network under `<set>/<network>`, once per distinct set of source files (CAMPPlus, Whisper and BigVGAN recur).
 */
function addNetworks<C>(
  id: string, family: { files(c: C): readonly { role: string; hub: readonly { repo: string; file: string }[] }[]; layout(c: C, src: ModelFileSource): { networks: readonly NetworkSpec<string>[] } },
  config: C, files: Record<string, string>, bigvgan: boolean,
): void {
  for (const f of family.files(config)) {
    const path = f.hub.map((h) => join(HUB, h.repo, h.file)).find((p) => existsSync(p));
    assert.ok(path, `${id}: the golden hub has no file for ${f.role}`);
    files[f.role] = path;
  }
  const layout = family.layout(config, {
    has: (role) => files[role] !== undefined,
    bytes: (role) => new Uint8Array(readFileSync(files[role])),
    text: (role) => readFileSync(files[role], 'utf8'),
    name: (role) => basename(files[role]),
  });
  for (const net of layout.networks) {
    const key = `${net.name}:${net.sources.map((r) => files[r]).join('|')}`;
    if (seenSources.has(key)) continue;
    seenSources.add(key);
    NETWORKS[`${id}/${net.name}`] = { build: (p) => net.build(p), bigvgan: bigvgan && net.name === 'vocoder' };
  }
}

for (const [id, set] of Object.entries(MODEL_SETS)) {
  const files: Record<string, string> = { checkpoint: join(HUB, set.checkpoint.repo, set.checkpoint.file), config: join(HUB, set.config.repo, set.config.file) };
  const config = parseSeedVcConfig(readFileSync(files.config, 'utf8'), basename(files.config));
  // The mirror's HiFT is the tiny one, whose sizes come from the parity set's hifigan_tiny.yml (the loader's `vocoderConfig` override).
  if (config.vocoder.type === 'hifigan') files.vocoderConfig = join(GOLDEN, 'models/hift_tiny/hifigan_tiny.yml');
  addNetworks(id, familyOf(config), config, files, config.vocoder.type === 'bigvgan');
}
// Seed-VC v2: its own family and wrapper config (the parity set's tiny vc_wrapper.yaml)
{
  const files: Record<string, string> = { config: join(GOLDEN, 'v2/configs/v2/vc_wrapper.yaml') };
  addNetworks('v2', SEED_VC_V2, parseV2WrapperConfig(readFileSync(files.config, 'utf8')), files, true);
}

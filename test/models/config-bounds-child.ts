// Child process for config-bounds.test.ts: loads a model set once per hostile case (argv[2]: JSON list of
// LoadOptions) and prints one JSON line: each outcome (error class and message) and the peak RSS.
import { SeedVc, type LoadOptions } from '../../src/node/load.ts';

const cases = JSON.parse(process.argv[2]) as LoadOptions[];
const rssBeforeBytes = process.memoryUsage.rss();
const results: { name: string; message: string; ms: number }[] = [];
for (const o of cases) {
  const t0 = performance.now();
  try {
    const m = await SeedVc.load({ ...o, device: 'cpu', offline: true, noGraphCache: true });
    await m.dispose();
    results.push({ name: 'loaded', message: '', ms: performance.now() - t0 });
  } catch (e) {
    results.push({ name: (e as Error).name, message: (e as Error).message, ms: performance.now() - t0 });
  }
}
process.stdout.write(JSON.stringify({ results, rssBeforeBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));

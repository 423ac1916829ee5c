// Child process for the hub tests: resolves one hub file and prints its path, or (with --report) one JSON
// line with the outcome, the error's class and message, and this process's peak resident set size.
import { resolveHubFile } from '../../src/node/hub.ts';

const [baseUrl, cacheDir, repo, file, extra] = process.argv.slice(2);
if (extra === undefined) {
  process.stdout.write(await resolveHubFile(repo, file, { baseUrl, cacheDir }));
} else {
  const opts = JSON.parse(extra) as { maxBytes?: number; deadlineMs?: number; idleTimeoutMs?: number };
  const rssBeforeBytes = process.memoryUsage.rss();
  const t0 = performance.now();
  let error: { name: string; message: string } | null = null;
  try { await resolveHubFile(repo, file, { baseUrl, cacheDir, ...opts }); } catch (e) { error = { name: (e as Error).name, message: (e as Error).message }; }
  process.stdout.write(JSON.stringify({ error, ms: performance.now() - t0, rssBeforeBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

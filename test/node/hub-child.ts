// Child process for the concurrency test: resolves one hub file and prints its path.
import { resolveHubFile } from '../../src/node/hub.ts';

const [baseUrl, cacheDir, repo, file] = process.argv.slice(2);
const path = await resolveHubFile(repo, file, { baseUrl, cacheDir });
process.stdout.write(path);

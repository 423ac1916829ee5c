/**
 * Built ONNX graphs in the browser's origin-private file system (OPFS), at seed-vc/onnx/<hash>/<network>.onnx
 * — the same content key (src/core/models/graph-key.ts) and layout as Node's ~/.cache/seed-vc/onnx. A
 * graph is written under a temporary name and moved into place when complete, so an interrupted write
 * never leaves a truncated graph under its final name.
 */
import { type GraphKey, graphHash } from '../core/models/graph-key.ts';

type Dir = FileSystemDirectoryHandle;
/** FileSystemHandle.move (Chromium, Firefox, Safari's OPFS); not yet in TypeScript's DOM types. */
type Movable = FileSystemFileHandle & { move?: (parent: Dir, name: string) => Promise<void> };

export class GraphStore {
  private constructor(private readonly root: Dir | undefined) {}

  /** Opens the store; without OPFS (old browsers, some private modes) it caches nothing. */
  static async open(): Promise<GraphStore> {
    try {
      const root = await navigator.storage.getDirectory();
      const dir = await (await root.getDirectoryHandle('seed-vc', { create: true })).getDirectoryHandle('onnx', { create: true });
      return new GraphStore(dir);
    } catch {
      return new GraphStore(undefined);
    }
  }

  get available(): boolean { return this.root !== undefined; }

  /** The graph for `key`, or undefined when it is not stored. */
  async get(key: GraphKey): Promise<Uint8Array | undefined> {
    if (!this.root) return undefined;
    try {
      const dir = await this.root.getDirectoryHandle(graphHash(key));
      const file = await (await dir.getFileHandle(`${key.network}.onnx`)).getFile();
      if (file.size === 0) return undefined;
      return new Uint8Array(await file.arrayBuffer());
    } catch {
      return undefined;
    }
  }

  /** Stores the graph for `key` (temp file, then a move into place). */
  async put(key: GraphKey, bytes: Uint8Array): Promise<void> {
    if (!this.root) return;
    const dir = await this.root.getDirectoryHandle(graphHash(key), { create: true });
    const name = `${key.network}.onnx`;
    const tmpName = `${name}.tmp-${Math.random().toString(36).slice(2)}`;
    const tmp = await dir.getFileHandle(tmpName, { create: true }) as Movable;
    try {
      const w = await tmp.createWritable();
      await w.write(bytes as Uint8Array<ArrayBuffer>);
      await w.close();
      if (tmp.move) {
        await tmp.move(dir, name);
      } else {
        // createWritable commits atomically on close(): the final file is never seen half-written.
        const w2 = await (await dir.getFileHandle(name, { create: true })).createWritable();
        await w2.write(bytes as Uint8Array<ArrayBuffer>);
        await w2.close();
        await dir.removeEntry(tmpName);
      }
    } catch (e) {
      await dir.removeEntry(tmpName).catch(() => {});
      throw e;
    }
  }

  /** Deletes every stored graph. */
  async clear(): Promise<void> {
    if (!this.root) return;
    const root = await navigator.storage.getDirectory();
    await (await root.getDirectoryHandle('seed-vc')).removeEntry('onnx', { recursive: true }).catch(() => {});
  }
}

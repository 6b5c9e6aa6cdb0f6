/**
 * Starting the case's child process: Node with the TypeScript loader, the worker module, an IPC
 * channel, and stderr captured (its tail goes into a crash report).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const TSX = pathToFileURL(require.resolve('tsx')).href;

/** Keeps the last `limit` characters written to a stream. */
export class Tail {
  private text = '';
  constructor(private readonly limit = 4000) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
}

export interface SpawnedWorker {
  child: ChildProcess;
  stderr: Tail;
}

/**
 * Forks the worker. `echo` forwards the child's stderr to ours (progress, backend warnings) while
 * also keeping its tail.
 */
export function spawnWorker(opts: { echo?: boolean; env?: NodeJS.ProcessEnv } = {}): SpawnedWorker {
  const child = fork(WORKER, [], {
    execArgv: ['--import', TSX],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...opts.env },
    serialization: 'advanced',
  });
  const stderr = new Tail();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr.push(d);
    if (opts.echo) process.stderr.write(d);
  });
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    stderr.push(d);
  });
  return { child, stderr };
}

// App logs: every line a container prints, with a timestamp and the
// container's name, appended to `logs/apps/<app>/app.log`. (Live tailing and
// rotation are day-2 work.)

import fs from 'node:fs';
import path from 'node:path';

export class AppLogs {
  readonly #dir: string;
  readonly #streams = new Map<string, fs.WriteStream>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  write(app: string, container: string, line: string): void {
    let stream = this.#streams.get(app);
    if (!stream) {
      const dir = path.join(this.#dir, app);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      stream = fs.createWriteStream(path.join(dir, 'app.log'), { flags: 'a', mode: 0o600 });
      this.#streams.set(app, stream);
    }
    stream.write(`${new Date().toISOString()} ${container}: ${line}\n`);
  }

  async remove(app: string): Promise<void> {
    await this.#closeStream(app);
    await fs.promises.rm(path.join(this.#dir, app), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#streams.keys()].map((app) => this.#closeStream(app)));
  }

  async #closeStream(app: string): Promise<void> {
    const stream = this.#streams.get(app);
    this.#streams.delete(app);
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
  }
}

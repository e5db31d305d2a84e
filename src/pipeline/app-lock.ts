// One change of an app's running containers at a time: a deployment's switch,
// a scale, a restart and a crash restart each take the app's lock, so they
// never interleave their edits of the live set and the route table.

export class AppLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier holder of this app's lock has finished. */
  async with<T>(app: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(app) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.#tails.set(app, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(app) === tail) this.#tails.delete(app);
    }
  }
}

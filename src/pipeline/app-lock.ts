// One change of an app's running containers at a time: a deployment's switch,
// a scale, a restart and a crash restart each take the app's lock, so they
// never interleave their edits of the live set and the route table.

export class AppLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` once every earlier holder of this app's lock has finished. When
   * `signal` aborts while still waiting, rejects with its reason at once and
   * `fn` never runs; once `fn` runs, it runs to its end.
   */
  async with<T>(app: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.#tails.get(app) ?? Promise.resolve();
    let started = false;
    const turn = () => {
      signal?.throwIfAborted();
      started = true;
      return fn();
    };
    const run = previous.then(turn, turn);
    // Forgotten once it settled (not when a caller stopped waiting: later holders still wait for it).
    const tail: Promise<unknown> = run
      .catch(() => {})
      .then(() => {
        if (this.#tails.get(app) === tail) this.#tails.delete(app);
      });
    this.#tails.set(app, tail);
    if (signal === undefined) return run;
    return Promise.race([run, abortedWhileWaiting(signal, () => started)]);
  }
}

/** Rejects when `signal` aborts before `started()`; never settles otherwise. */
function abortedWhileWaiting(signal: AbortSignal, started: () => boolean): Promise<never> {
  return new Promise((_resolve, reject) => {
    const onAbort = () => {
      if (!started()) reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

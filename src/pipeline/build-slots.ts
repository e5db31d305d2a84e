// A cap on concurrent builds across all apps (builds are the heavy part of a
// deployment). A deployment waiting for a slot stays `queued`.

export class BuildSlots {
  readonly #max: number;
  #used = 0;
  readonly #waiting = new Set<() => void>();

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /**
   * Resolves with an idempotent release function once a slot is free, or
   * with null when `signal` aborts first (server shutdown).
   */
  async acquire(signal: AbortSignal): Promise<(() => void) | null> {
    if (signal.aborted) return null;
    if (this.#used < this.#max) this.#used++;
    else {
      const granted = await new Promise<boolean>((resolve) => {
        const grant = () => {
          signal.removeEventListener('abort', abort);
          resolve(true);
        };
        const abort = () => {
          this.#waiting.delete(grant);
          resolve(false);
        };
        this.#waiting.add(grant);
        signal.addEventListener('abort', abort, { once: true });
      });
      if (!granted) return null;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const [next] = this.#waiting;
      if (next) {
        this.#waiting.delete(next);
        next(); // the slot passes straight to the next waiter
      } else this.#used--;
    };
  }
}

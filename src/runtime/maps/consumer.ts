// The user-space consumer side shared by ring buffers and perf event arrays:
// drain records with a callback, or await them with an async iterator that
// wakes when the program side produces one (or when the consumer is closed).

export class RecordConsumer<T> {
  private waiters: (() => void)[] = [];
  private closed = false;

  /** `next` takes the oldest record, or undefined when there is none. */
  constructor(private readonly next: () => T | undefined) {}

  /** Hand every available record to `cb` (stop early when it returns false); returns how many were taken. */
  consume(cb: (rec: T) => boolean | void): number {
    let n = 0;
    for (let r = this.next(); r !== undefined; r = this.next()) {
      n++;
      if (cb(r) === false) break;
    }
    return n;
  }

  /** Resume pending async iterations (a record arrived). */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** End pending async iterations (they finish once the records are drained). */
  close(): void {
    this.closed = true;
    this.wake();
  }

  iterator(): AsyncIterator<T> {
    return {
      next: async (): Promise<IteratorResult<T>> => {
        for (;;) {
          const r = this.next();
          if (r !== undefined) return { value: r, done: false };
          if (this.closed) return { value: undefined, done: true };
          await new Promise<void>((res) => this.waiters.push(res));
        }
      },
      return: async (): Promise<IteratorResult<T>> => ({ value: undefined, done: true }),
    };
  }
}

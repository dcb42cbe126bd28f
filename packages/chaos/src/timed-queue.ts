/**
 * Actions that must run in order, each no earlier than its due time
 * (monotonic milliseconds). One timer at a time, for the head of the queue;
 * an action due now on an empty queue runs at once, so a toxic that adds
 * no delay adds no tick either.
 */
export class TimedQueue {
  #items: { due: number; run: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastDue = 0;

  /** The due time of the last action queued (or run); later actions are never due before it. */
  get lastDue(): number {
    return this.#lastDue;
  }

  get size(): number {
    return this.#items.length;
  }

  schedule(due: number, run: () => void): void {
    const at = Math.max(due, this.#lastDue);
    this.#lastDue = at;
    if (this.#items.length === 0 && at <= performance.now()) {
      run();
      return;
    }
    this.#items.push({ due: at, run });
    if (this.#items.length === 1) this.#arm();
  }

  /** Runs everything queued now, in order. */
  flush(): void {
    this.#cancelTimer();
    while (this.#items.length > 0) this.#items.shift()?.run();
  }

  /** Forgets everything queued. */
  clear(): void {
    this.#cancelTimer();
    this.#items = [];
  }

  #arm(): void {
    const head = this.#items[0];
    if (head === undefined) return;
    // Timers only deliver data that the sockets wait for; they never keep a process alive by themselves.
    this.#timer = setTimeout(() => this.#runDue(), Math.max(0, head.due - performance.now()));
    this.#timer.unref();
  }

  #runDue(): void {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#items.length > 0 && (this.#items[0]?.due ?? Infinity) <= now) this.#items.shift()?.run();
    // An action may have queued (and armed) more; arm exactly once for the new head.
    this.#cancelTimer();
    this.#arm();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

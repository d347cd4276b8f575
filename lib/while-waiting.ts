/**
 * Work a call does while it waits for its store read, instead of after it. Create it just after the read was sent:
 * `make` runs in this event-loop turn's check phase, after the store's request was written (node-redis writes in an
 * immediate set when the command is sent, the HTTP clients before), so it runs while the store answers. {@link take}
 * gives what `make` made, or makes it then when the read answered first; what is not taken is dropped.
 */
export class WhileWaiting<T> {
  private made: T | undefined;
  private settled = false;

  constructor(private readonly make: () => T) {
    setImmediate(() => {
      if (!this.settled) this.made = make();
    });
  }

  take(): T {
    const made = this.made ?? this.make();
    this.drop();
    return made;
  }

  /** Nothing is needed (any more): nothing more is made. */
  drop(): void {
    this.settled = true;
    this.made = undefined;
  }
}

/**
 * Work a call does while it waits for its store read, instead of after it. Create it just after the read was sent:
 * `make` runs in this event-loop turn's check phase, after the store's request was written (node-redis writes in an
 * immediate set when the command is sent, the HTTP clients before), so it runs while the store answers. {@link take}
 * gives what `make` made, or makes it then when the read answered first; what is not taken is dropped.
 */
export class WhileWaiting<T> {
  private made: T | undefined;
  private readonly immediate: NodeJS.Immediate;

  constructor(private readonly make: () => T) {
    this.immediate = setImmediate(() => {
      this.made = make();
    });
  }

  take(): T {
    const made = this.made ?? this.make();
    this.drop();
    return made;
  }

  /**
   * Nothing is needed (any more): nothing more is made. The immediate is cleared, not left to find nothing to do: a
   * store that answers without I/O (the memory store) lets a loop of calls run without the event loop turning, and
   * thousands of waiting immediates would then pile up.
   */
  drop(): void {
    clearImmediate(this.immediate);
    this.made = undefined;
  }
}

import type { EmitInput, EmittableEventKind, EngineAdapter, EventSink } from '@z4j/agent';

/** One event the adapter handed its sink, and whether the agent took it. */
export interface TappedEvent {
  readonly kind: string;
  /** '' for events that are not about a task. */
  readonly taskId: string;
  /** The time the event carries (stamped here when the adapter left it to the sink, as the sink would). */
  readonly occurredAt: Date;
  readonly accepted: boolean;
}

/**
 * The adapter under test with a tap on its event sink: every event passes through unchanged to the agent's real
 * sink, and is recorded, so the suite knows exactly which events the agent took in (and can hold the brain to
 * storing each of them) without asking the adapter to count.
 *
 * An event without `occurredAt` gets the current time here instead of in the sink: the same clock the agent's sink
 * uses, read in the same synchronous call, so the event is unchanged while the tap knows the time it carries (the
 * brain identifies a task event by task id, kind and that time).
 *
 * @example
 * const tap = tapAdapter(fixture.adapter);
 * createAgent({ adapters: [tap.adapter], … });
 * tap.events.filter((event) => event.taskId === taskId);
 */
export function tapAdapter(adapter: EngineAdapter): { readonly adapter: EngineAdapter; readonly events: readonly TappedEvent[] } {
  const events: TappedEvent[] = [];
  const tapped = (sink: EventSink): EventSink => ({
    engine: sink.engine,
    emit<K extends EmittableEventKind>(kind: K, input: EmitInput<K>): boolean {
      const occurredAt = input.occurredAt ?? new Date();
      const accepted = sink.emit(kind, { ...input, occurredAt });
      events.push({ kind, taskId: input.taskId ?? '', occurredAt, accepted });
      return accepted;
    },
  });
  return {
    events,
    adapter: {
      engine: adapter.engine,
      capabilities: adapter.capabilities,
      scheduler: adapter.scheduler,
      start: (sink) => adapter.start(tapped(sink)),
      queueDepths: () => adapter.queueDepths(),
      workerDetails: () => adapter.workerDetails(),
      execute: (action, target, parameters, signal) => adapter.execute(action, target, parameters, signal),
      stop: () => adapter.stop(),
    },
  };
}

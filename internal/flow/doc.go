// Package flow is the component model shared by every front end that moves
// events: Flume agents (internal/agent), Kafka Connect (later) and processors
// (later).
//
// The parts:
//
//   - Event: headers, body, optional key and timestamp. A Kafka record maps onto
//     it 1:1.
//   - Channel: a transactional buffer. A Transaction is either a put
//     transaction (a source's batch) or a take transaction (a sink's batch);
//     nothing it did is visible to others until Commit, and Rollback undoes it
//     (taken events go back to the head of the channel).
//   - Source: Run produces batches and hands each to an Emitter; it may
//     acknowledge its upstream (a socket reply, a file position, a consumer
//     offset) only after Emit returned nil, which means the batch is committed
//     to every required channel.
//   - Sink: Deliver writes a batch durably to its target. A SinkRunner owns the
//     take transaction around it: take a batch, Deliver, Commit; on error
//     Rollback and retry with backoff.
//   - Transform: a pure function on one event that may drop it (Flume
//     interceptors and Connect SMTs).
//   - ChannelProcessor: applies the transforms, asks a Selector which channels
//     each event goes to, and commits the batch to every required channel or
//     to none.
//
// Components register a constructor and a Spec (the config keys they accept,
// with defaults and docs) under every name they answer to: the Flume alias,
// the Java class name, later the Connect name. Names are case-insensitive.
//
// Delivery is at-least-once: a sink that fails after delivering part of a
// batch has the whole batch redelivered.
package flow

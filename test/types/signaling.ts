/**
 * Compile-time checks of the signaling handler table (run by `npm run
 * typecheck`, not by mocha): each `@ts-expect-error` line must stay an
 * error, so loosening the table's types back to `Promise<object>` fails the
 * typecheck.
 */
import { CLIENT_EVENTS, type ClientEventName, type JoinedMessage } from "../../lib/protocol.js";
import type { AckCallback, ClientAck, EventHandler, HandlerTable } from "../../server/signaling/events.js";

declare const joined: JoinedMessage;

/** The shapes the contract asks for compile. */
export const contractAcks: HandlerTable = {
  join: () => Promise.resolve({ joined }),
  leave: () => Promise.resolve({}),
  offer: () => Promise.resolve({}),
  answer: () => Promise.resolve({}),
  "ice-candidate": () => Promise.resolve({}),
  mute: () => Promise.resolve({}),
};

export const joinWithoutJoined: Partial<HandlerTable> = {
  // @ts-expect-error the join ack carries `joined`
  join: () => Promise.resolve({}),
};

export const joinWithPartialJoined: Partial<HandlerTable> = {
  // @ts-expect-error `joined` is a whole JoinedMessage
  join: () => Promise.resolve({ joined: { roomId: "r", peerId: "p" } }),
};

export const leaveWithData: Partial<HandlerTable> = {
  // @ts-expect-error the leave ack carries nothing beside `ok`
  leave: () => Promise.resolve({ joined }),
};

export const muteWithData: Partial<HandlerTable> = {
  // @ts-expect-error the mute ack carries nothing beside `ok`
  mute: () => Promise.resolve({ muted: true }),
};

// @ts-expect-error a handler may not resolve to just any object
export const looseHandler: EventHandler<"offer"> = () => Promise.resolve<object>({ sdp: "" });

// @ts-expect-error every event of the contract has a handler
export const missingHandler: HandlerTable = { join: contractAcks.join };

/** The dispatcher calls each client's ack with results the contract's ack accepts. */
export const acksFit: { [E in ClientEventName]: ClientAck<E> extends AckCallback<E> ? true : never } = {
  join: true,
  leave: true,
  offer: true,
  answer: true,
  "ice-candidate": true,
  mute: true,
};

/** The namespace listens to every event of the contract. */
export const everyEventListened: Exclude<ClientEventName, (typeof CLIENT_EVENTS)[number]> extends never
  ? true
  : never = true;

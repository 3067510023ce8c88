import type { MainProcessCallName } from '../protocol/calls';
import type { ChildMessage, ParentMessage } from '../protocol/messages';

let nextCallId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

/** Calls an `Oban` method in the main process; settles when its `call-result` arrives. */
export function callMainProcess(method: string, args: unknown[]): Promise<unknown> {
  const callId = nextCallId++;
  return new Promise((resolve, reject) => {
    pending.set(callId, { resolve, reject });
    try {
      send({ type: 'call', callId, method: method as MainProcessCallName, args });
    } catch (error) {
      pending.delete(callId);
      throw error; // rejects the call: its arguments cannot cross
    }
  });
}

export function settleCall(message: Extract<ParentMessage, { type: 'call-result' }>): void {
  const call = pending.get(message.callId);
  if (!call) return;
  pending.delete(message.callId);
  if (message.error) {
    const error = new Error(message.error.message.replace(/^[^:]+: /, ''));
    error.name = message.error.name;
    error.stack = message.error.stack;
    call.reject(error);
  } else {
    call.resolve(message.value);
  }
}

/**
 * Sends to the main process; throws only when the message cannot be
 * serialized. A failed write is ignored: the main process is gone, and
 * 'disconnect' ends this one.
 */
export function send(message: ChildMessage, callback: () => void = () => undefined): void {
  if (process.connected) process.send!(message, undefined, {}, callback);
}

import { HoldfastError } from '@holdfast/core';

/**
 * Why the pipe stopped reading a source:
 * - `stalled`: no byte for `stallTimeoutMs` while the pipe wanted data (transient: it reopens)
 * - `ended-early`: the source ended before the length it stated, without delivering anything since it was opened (transient)
 * - `too-long`: the source delivered more bytes than the length it stated
 * - `length-changed`: the source stated a length, then another one
 * - `source-changed`: the source is not the entity it was when the pipe first opened it (`fileSource`: another size, time or inode)
 */
export type SourceErrorReason = 'stalled' | 'ended-early' | 'too-long' | 'length-changed' | 'source-changed';

const KIND = {
  stalled: { kind: 'timeout', transient: true },
  'ended-early': { kind: 'closed', transient: true },
  'too-long': { kind: 'protocol', transient: false },
  'length-changed': { kind: 'protocol', transient: false },
  'source-changed': { kind: 'protocol', transient: false },
} as const;

const HINT: Record<SourceErrorReason, string> = {
  stalled:
    'the source sent nothing while the pipe waited for data (a stuck server, a proxy holding the connection, a dead peer without a RST); the pipe reopens it at the byte it stopped at',
  'ended-early': 'the source ended before its stated length (a connection closed mid-transfer); the pipe reopens it at the byte it stopped at',
  'too-long': 'the source sent more bytes than it said it had: it is not the entity it claimed to be; start again from byte 0',
  'length-changed': 'the source now states another length: the entity changed, so the bytes received cannot be completed; start again from byte 0',
  'source-changed': 'the entity changed since the transfer started, so the bytes received cannot be completed; start again from byte 0',
};

/** The source misbehaved; `reason` says how, the fault says whether reopening it can help. */
export class SourceError extends HoldfastError {
  readonly reason: SourceErrorReason;

  constructor(reason: SourceErrorReason, detail: string) {
    super(detail, {
      ...KIND[reason],
      code: `HOLDFAST_STREAM_${reason.toUpperCase().replace(/-/g, '_')}`,
      phase: 'response',
      hint: HINT[reason],
      message: detail,
    });
    this.reason = reason;
  }
}

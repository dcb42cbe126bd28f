import type { FaultKind, FaultPhase } from '../fault.js';
import { type Rule, RANK_CONCRETE, RANK_GENERIC, RANK_WRAPPER, rule } from './rule.js';
import { isArray, readNumber, readProp, readString } from './safe-read.js';

/**
 * MongoDB driver errors, recognised by name (core does not depend on the
 * driver). Network errors wrap the system error as `cause`, which the walk
 * prefers; server errors carry a numeric `code`, a `codeName` and error labels.
 * A transient label (RetryableWriteError, TransientTransactionError,
 * RetryableError…) makes any Mongo error transient; `NoWritesPerformed` says
 * the server applied nothing, which is what the connect phase means to
 * retryVerdict.
 */
interface Spec {
  readonly kind: FaultKind;
  readonly phase: FaultPhase;
  readonly transient: boolean;
  readonly hint: string;
  readonly rank?: number;
}

const ELECTION_HINT =
  'a replica set election is under way (the primary stepped down or is not reachable); retry with backoff, the driver finds the new primary (retryWrites/retryReads do it once)';
const SHUTDOWN_HINT = 'the MongoDB server is shutting down or restarting; retry with backoff';
const LABEL_HINT = 'the MongoDB driver labelled this error retryable; retry with backoff (inside a transaction, retry the whole transaction)';
const COMMIT_UNKNOWN_HINT =
  'the transaction commit outcome is unknown (the connection broke during commit); retry commitTransaction, which is safe, rather than the whole transaction';

const BY_NAME: ReadonlyMap<string, Spec> = new Map<string, Spec>([
  [
    'MongoNetworkTimeoutError',
    {
      kind: 'timeout',
      phase: 'unknown',
      transient: true,
      hint: 'a MongoDB connection timed out (socketTimeoutMS/connectTimeoutMS; a slow server or a network drop); retry with backoff',
    },
  ],
  [
    'MongoNetworkError',
    {
      kind: 'closed',
      phase: 'unknown',
      transient: true,
      rank: RANK_GENERIC,
      hint: 'the connection to MongoDB broke (server restart, failover or network drop); retry with backoff, the driver reconnects',
    },
  ],
  [
    'MongoServerSelectionError',
    {
      kind: 'timeout',
      phase: 'connect',
      transient: true,
      rank: RANK_WRAPPER,
      hint: 'no suitable MongoDB server was found within serverSelectionTimeoutMS (server down, wrong host/port or replicaSet name, or a firewall); check the URI and reachability',
    },
  ],
  [
    // Mongoose's copy of the driver's error, the one `mongoose.connect()` rejects with (the same `reason`, also as `cause`).
    'MongooseServerSelectionError',
    {
      kind: 'timeout',
      phase: 'connect',
      transient: true,
      rank: RANK_WRAPPER,
      hint: 'no suitable MongoDB server was found within serverSelectionTimeoutMS (server down, wrong host/port or replicaSet name, or a firewall); check the URI and reachability',
    },
  ],
  ['MongoServerClosedError', { kind: 'closed', phase: 'connect', transient: true, hint: SHUTDOWN_HINT }],
  [
    'MongoTopologyClosedError',
    {
      kind: 'closed',
      phase: 'connect',
      transient: false,
      rank: RANK_GENERIC,
      hint: 'the MongoClient was closed by the application; do not use it after close(), or connect a new one',
    },
  ],
  [
    'MongoNotConnectedError',
    { kind: 'closed', phase: 'connect', transient: false, rank: RANK_GENERIC, hint: 'the MongoClient is not connected; call connect() first' },
  ],
  [
    'MongoClientClosedError',
    {
      kind: 'closed',
      phase: 'connect',
      transient: false,
      rank: RANK_GENERIC,
      hint: 'the MongoClient was closed by the application; do not use it after close(), or connect a new one',
    },
  ],
  [
    'MongoOperationTimeoutError',
    {
      kind: 'timeout',
      phase: 'unknown',
      transient: false,
      hint: "the operation's timeoutMS passed (the caller's deadline); raise timeoutMS or make the operation faster, retrying under the same deadline cannot help",
    },
  ],
  [
    'MongoParseError',
    { kind: 'unknown', phase: 'connect', transient: false, rank: RANK_GENERIC, hint: 'the MongoDB connection string is invalid; fix the URI' },
  ],
  [
    'MongoMissingCredentialsError',
    {
      kind: 'unknown',
      phase: 'connect',
      transient: false,
      rank: RANK_GENERIC,
      hint: 'MongoDB credentials are missing for the chosen auth mechanism; add them to the URI or options',
    },
  ],
]);

const BY_SERVER_CODE: ReadonlyMap<number, readonly [string, Spec]> = new Map<number, readonly [string, Spec]>([
  [
    6,
    [
      'HostUnreachable',
      {
        kind: 'network-unreachable',
        phase: 'unknown',
        transient: true,
        hint: 'a MongoDB server could not reach another member; retry with backoff, check the cluster network',
      },
    ],
  ],
  [
    7,
    [
      'HostNotFound',
      {
        kind: 'dns',
        phase: 'unknown',
        transient: true,
        hint: 'a MongoDB server could not resolve another member; retry with backoff, check the cluster DNS',
      },
    ],
  ],
  [
    89,
    [
      'NetworkTimeout',
      { kind: 'timeout', phase: 'unknown', transient: true, hint: 'a network timeout inside the MongoDB cluster; retry with backoff' },
    ],
  ],
  [
    9001,
    [
      'SocketException',
      { kind: 'connection-reset', phase: 'unknown', transient: true, hint: 'a socket failed inside the MongoDB cluster; retry with backoff' },
    ],
  ],
  [91, ['ShutdownInProgress', { kind: 'closed', phase: 'unknown', transient: true, hint: SHUTDOWN_HINT }]],
  [11600, ['InterruptedAtShutdown', { kind: 'closed', phase: 'unknown', transient: true, hint: SHUTDOWN_HINT }]],
  [189, ['PrimarySteppedDown', { kind: 'closed', phase: 'unknown', transient: true, hint: ELECTION_HINT }]],
  [11602, ['InterruptedDueToReplStateChange', { kind: 'closed', phase: 'unknown', transient: true, hint: ELECTION_HINT }]],
  [10107, ['NotWritablePrimary', { kind: 'connection-refused', phase: 'connect', transient: true, hint: ELECTION_HINT }]],
  [13435, ['NotPrimaryNoSecondaryOk', { kind: 'connection-refused', phase: 'connect', transient: true, hint: ELECTION_HINT }]],
  [13436, ['NotPrimaryOrSecondary', { kind: 'connection-refused', phase: 'connect', transient: true, hint: ELECTION_HINT }]],
  [10058, ['LegacyNotPrimary', { kind: 'connection-refused', phase: 'connect', transient: true, hint: ELECTION_HINT }]],
  [
    262,
    [
      'ExceededTimeLimit',
      {
        kind: 'timeout',
        phase: 'unknown',
        transient: true,
        hint: 'the MongoDB server ran out of time for this operation under load; retry with backoff',
      },
    ],
  ],
  [
    134,
    [
      'ReadConcernMajorityNotAvailableYet',
      {
        kind: 'unknown',
        phase: 'unknown',
        transient: true,
        hint: 'the replica set cannot serve majority reads yet (starting up); retry with backoff',
      },
    ],
  ],
  [
    50,
    [
      'MaxTimeMSExpired',
      {
        kind: 'timeout',
        phase: 'unknown',
        transient: false,
        hint: 'the operation exceeded its maxTimeMS (a slow query); add an index or raise maxTimeMS',
      },
    ],
  ],
  [
    64,
    [
      'WriteConcernTimeout',
      {
        kind: 'timeout',
        phase: 'unknown',
        transient: false,
        hint: 'the write was applied on the primary but not replicated within wtimeout; check replication lag before writing again',
      },
    ],
  ],
  [
    18,
    [
      'AuthenticationFailed',
      { kind: 'unknown', phase: 'connect', transient: false, hint: 'MongoDB authentication failed; check the user, password and authSource' },
    ],
  ],
  [
    13,
    [
      'Unauthorized',
      {
        kind: 'unknown',
        phase: 'unknown',
        transient: false,
        hint: 'the MongoDB user lacks the privilege for this operation; grant the role or use another user',
      },
    ],
  ],
  [
    11000,
    [
      'DuplicateKey',
      {
        kind: 'unknown',
        phase: 'unknown',
        transient: false,
        hint: 'a unique index rejected the write (after a retry this can mean the earlier attempt was applied); check before writing again',
      },
    ],
  ],
]);

const OTHER_SERVER_ERROR: Spec = {
  kind: 'unknown',
  phase: 'unknown',
  transient: false,
  rank: RANK_GENERIC,
  hint: "the MongoDB server rejected the operation; see codeName and the server's message",
};
const OTHER_DRIVER_ERROR: Spec = {
  kind: 'unknown',
  phase: 'unknown',
  transient: false,
  rank: RANK_GENERIC,
  hint: 'the MongoDB driver rejected the operation; see its message',
};

// Not `ResetPool`: it says the driver cleared its pool, which it also does when a handshake fails on bad credentials
// (`AuthenticationFailed` labelled HandshakeError + ResetPool); the network errors it accompanies are transient already.
const TRANSIENT_LABELS: ReadonlySet<string> = new Set([
  'RetryableWriteError',
  'TransientTransactionError',
  'RetryableError',
  'SystemOverloadedError',
  'PoolRequestedRetry',
  'ResumableChangeStreamError',
]);

const byName = new Map<string, Rule>();
const byServerCode = new Map<number, Rule>();

function labelsOf(error: object): readonly unknown[] {
  const labels = readProp(error, 'errorLabels');
  return isArray(labels) ? labels : [];
}

function baseRule(error: object, name: string): Rule {
  const code = readNumber(error, 'code');
  if (code !== undefined) {
    let found = byServerCode.get(code);
    if (found === undefined) {
      const known = BY_SERVER_CODE.get(code);
      if (known !== undefined) {
        found = rule(known[0], { rank: RANK_CONCRETE, ...known[1] });
        byServerCode.set(code, found);
      } else {
        return rule(readString(error, 'codeName') ?? `MONGO_${code}`, OTHER_SERVER_ERROR);
      }
    }
    return found;
  }
  let found = byName.get(name);
  if (found === undefined) {
    found = rule(name, BY_NAME.get(name) ?? OTHER_DRIVER_ERROR);
    byName.set(name, found);
  }
  return found;
}

/** A MongoDB driver or server error, by its name (`Mongo…`), refined by code, labels and `beforeHandshake`. */
export function mongoRule(error: object, name: string): Rule {
  let found = baseRule(error, name);
  if (readProp(error, 'beforeHandshake') === true && found.phase === 'unknown') found = { ...found, phase: 'connect' };
  const labels = labelsOf(error);
  if (labels.length === 0) return found;
  if (labels.includes('UnknownTransactionCommitResult')) {
    return { ...found, transient: true, phase: 'unknown', hint: COMMIT_UNKNOWN_HINT };
  }
  if (!found.transient && labels.some((label) => typeof label === 'string' && TRANSIENT_LABELS.has(label))) {
    found = { ...found, transient: true, hint: LABEL_HINT };
  }
  if (labels.includes('NoWritesPerformed') && found.transient) found = { ...found, phase: 'connect' };
  return found;
}

/** Server descriptions in a topology description are read this far: a cluster has a few members, not hundreds. */
const MAX_SERVERS = 16;

/**
 * The errors of each server a server-selection failure saw. The driver's
 * `MongoServerSelectionError` keeps them in `reason` (a TopologyDescription),
 * mongoose's `MongooseServerSelectionError` in `reason` and `cause` (the same
 * object): `servers` is a Map of ServerDescriptions, each with the `error` of
 * its last check (`connect ECONNREFUSED`, a TLS or DNS error). Without
 * `directConnection` the selection error carries no cause of its own, so this
 * is the only place the real fault is found. Reads `node.servers` or
 * `node.reason.servers`; undefined when neither is a Map.
 */
export function topologyServerErrors(node: object): object[] | undefined {
  let servers = readProp(node, 'servers');
  if (!(servers instanceof Map)) {
    const reason = readProp(node, 'reason');
    servers = typeof reason === 'object' && reason !== null ? readProp(reason, 'servers') : undefined;
    if (!(servers instanceof Map)) return undefined;
  }
  const errors: object[] = [];
  try {
    for (const description of (servers as Map<unknown, unknown>).values()) {
      if (errors.length >= MAX_SERVERS) break;
      const error = typeof description === 'object' && description !== null ? readProp(description, 'error') : undefined;
      if (typeof error === 'object' && error !== null) errors.push(error);
    }
  } catch {
    // A Map subclass or Proxy whose iteration throws: what was read so far stands.
  }
  return errors;
}

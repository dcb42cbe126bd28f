import { performance } from 'node:perf_hooks';
import {
  AttemptTimeoutError,
  OutcomeUnknownError,
  RetryBudget,
  RetryError,
  TypedEvents,
  classify,
  retry,
  type Fault,
  type Listener,
  type RetryableOperation,
} from '@holdfast/core';
import mongoose, { type ConnectOptions, type Connection, type Mongoose, type mongo } from 'mongoose';
import { CLOSED_FAULT, NotConnectedError, notSentFault } from './errors.js';
import type { MongooseConnectionState, ResilientMongooseEvents } from './events.js';
import { meansUnreachable } from './mongo-faults.js';
import { OperationRunner } from './operation-runner.js';
import {
  DEFAULTS,
  DEFAULT_CONNECT_SCHEDULE,
  DEFAULT_PROBE_SCHEDULE,
  checkCallOptions,
  checkHandleOptions,
  checkTransactionOptions,
  type ResilientMongooseOptions,
  type WithRetryOptions,
  type WithTransactionOptions,
} from './options.js';
import { ReachabilityProbe } from './reachability-probe.js';
import { ServerGate } from './server-gate.js';
import { runTransaction, type TransactionAttempt } from './transaction.js';
import { insecureTlsOption, uriOptions } from './uri.js';

export interface ResilientMongooseStats {
  readonly state: MongooseConnectionState;
  /** Times the server became reachable: the first connection, then each reconnection. */
  readonly connects: number;
  /** Times it stopped being reachable. */
  readonly disconnects: number;
  /** Attempts at the first connection. */
  readonly connectAttempts: number;
  /** Reachability probes (`ping`) sent while it was unreachable. */
  readonly probes: number;
  /** `withRetry()` and `withTransaction()` calls. */
  readonly operations: number;
  /** Attempts after the first, over all operations. */
  readonly retries: number;
  /** Operations that failed with `OutcomeUnknownError`. */
  readonly outcomeUnknown: number;
  /** Operations that rejected, for any reason. */
  readonly failed: number;
  /** Operations running now. */
  readonly inFlight: number;
  /** Of those, waiting for the server to be reachable. */
  readonly waiting: number;
}

// Every event of every handle goes to one diagnostics channel, `holdfast:mongoose`.
// The shared lifecycle is published once, on holdfast:reconnect; mongoose's own names are for listeners only.
const CHANNELS = {
  state: 'reconnect',
  open: 'reconnect',
  disconnect: 'reconnect',
  reconnecting: 'reconnect',
  'give-up': 'reconnect',
  close: 'reconnect',
  connected: false,
  disconnected: false,
  reconnected: false,
} as const satisfies { readonly [K in keyof ResilientMongooseEvents]: string | false };

const CONNECTED = 1;
const CONNECTING = 2;
const EMPTY_CALL: WithRetryOptions = Object.freeze({});
/** A fault older than this is not taken as the reason for a loss the driver reports. */
const RECENT_FAULT_MS = 2_000;
/** The probe's ping waits at most this much longer than the driver's own server selection would. */
const PROBE_SLACK_MS = 1_000;

const LOST_FAULT: Fault = Object.freeze({
  kind: 'closed',
  code: 'HOLDFAST_SERVER_UNREACHABLE',
  phase: 'connect',
  transient: true,
  hint: "the driver lost the server (its monitor's check failed); it and holdfast's probe reconnect by themselves",
  message: 'the driver marked the server unknown',
});

const CLOSED_OUTSIDE_FAULT: Fault = Object.freeze({
  kind: 'closed',
  code: 'MongoClientClosedError',
  phase: 'connect',
  transient: false,
  hint: 'the mongoose connection was closed outside this handle (connection.close(), mongoose.disconnect()); close the handle instead, or open the connection again',
  message: 'the mongoose connection was closed',
});

function isConnection(value: Mongoose | Connection): value is Connection {
  return typeof (value as Connection).openUri === 'function';
}

/**
 * A mongoose connection that starts before its database, survives resets
 * and restarts with the one MongoClient mongoose made, and says what state
 * it is in. The constructor starts connecting; `ready` resolves once the
 * first connection is up (or use `connectMongoose()`, which waits for it).
 * `withRetry()` and `withTransaction()` run application operations with a
 * deadline each, retried only when that is safe. Never emits `'error'`,
 * never leaves an unhandled rejection; `close()` leaves no socket or timer.
 */
export class ResilientMongoose {
  readonly name: string;
  /** Mongoose's own connection: define models on it (or on the mongoose instance it belongs to). */
  readonly connection: Connection;
  /** Resolves with this handle once the first connection is up; rejects if it is given up, aborted or closed first. */
  readonly ready: Promise<this>;

  readonly #uri: string;
  readonly #connectOptions: ConnectOptions;
  readonly #options: ResilientMongooseOptions;
  readonly #events = new TypedEvents<ResilientMongooseEvents>(CHANNELS);
  // Probes that failed since the server was lost: the `open` after a loss took one more.
  #probeFailures = 0;
  #gaveUp: Fault | undefined;
  readonly #gate = new ServerGate();
  readonly #runner: OperationRunner;
  readonly #probe: ReachabilityProbe;
  readonly #startup = new AbortController();
  readonly #createdAt = performance.now();
  readonly #detach: (() => void)[] = [];

  #state: MongooseConnectionState = 'connecting';
  #since = Date.now();
  #lastFault: Fault | undefined;
  #lastFaultAt: number | undefined;
  #upSince = 0;
  #downSince = 0;
  /** An openUri() still running (an attempt cut short by the deadline): close() ends it and waits for it. */
  #opening: Promise<void> | undefined;
  /** The MongoClient of that attempt: closing it ends the attempt at once. */
  #attemptClient: mongo.MongoClient | undefined;
  #client: mongo.MongoClient | undefined;
  #closing: Promise<void> | undefined;

  #connects = 0;
  #disconnects = 0;
  #connectAttempts = 0;
  #operations = 0;
  #retries = 0;
  #outcomeUnknown = 0;
  #failedOperations = 0;
  #inFlight = 0;

  constructor(uri: string, options?: ResilientMongooseOptions) {
    if (typeof uri !== 'string' || uri.length === 0) {
      throw new TypeError(`connectMongoose: uri must be a MongoDB connection string ('mongodb://…' or 'mongodb+srv://…'), got ${typeof uri}`);
    }
    const checked = checkHandleOptions(options);
    const given = checked.connectOptions ?? {};
    const inUri = uriOptions(uri);
    const insecure = insecureTlsOption(inUri, given as Record<string, unknown>);
    if (insecure !== undefined) {
      throw new RangeError(
        `connectMongoose: the TLS option '${insecure}' turns certificate verification off, which holdfast refuses; to trust a private CA pass connectOptions.tlsCAFile (or ca)`,
      );
    }
    this.#options = checked;
    this.#uri = uri;
    this.name = checked.name ?? DEFAULTS.name;
    const target = checked.mongoose ?? mongoose;
    this.connection = isConnection(target) ? target : target.connection;
    const serverSelectionTimeoutMS = checked.serverSelectionTimeoutMS ?? DEFAULTS.serverSelectionTimeoutMS;
    // A value the user chose, in the options or in the URI, stands: the options object would override the URI's.
    this.#connectOptions =
      given.serverSelectionTimeoutMS !== undefined || (inUri.has('serverselectiontimeoutms') && checked.serverSelectionTimeoutMS === undefined)
        ? { ...given }
        : { ...given, serverSelectionTimeoutMS };
    const budget = checked.budget === false ? undefined : (checked.budget ?? new RetryBudget());
    this.#runner = new OperationRunner(
      {
        deadlineMs: checked.deadlineMs ?? DEFAULTS.deadlineMs,
        attemptTimeoutMs: checked.attemptTimeoutMs,
        attempts: checked.attempts ?? DEFAULTS.attempts,
        schedule: checked.retrySchedule,
        budget,
        name: this.name,
        random: checked.random,
      },
      {
        gate: this.#gate,
        lastFault: () => this.#lastFault,
        failed: (fault, error) => this.#onOperationFault(fault, error),
        started: () => {
          this.#operations++;
          this.#inFlight++;
        },
        settled: (error) => {
          this.#inFlight--;
          if (error === undefined) return;
          this.#failedOperations++;
          if (error instanceof OutcomeUnknownError) this.#outcomeUnknown++;
        },
      },
    );
    this.#runner.policy.on('retry', () => {
      this.#retries++;
    });
    this.#probe = new ReachabilityProbe({
      ping: () => this.#ping(),
      schedule: checked.probeSchedule ?? DEFAULT_PROBE_SCHEDULE,
      random: checked.random ?? Math.random,
      timeoutMs: () => this.#serverSelectionTimeoutMS() + PROBE_SLACK_MS,
      listener: {
        reachable: () => this.#regained(),
        failed: (fault, attempt, delayMs) => {
          this.#noteFault(fault);
          this.#probeFailures = attempt;
          this.#events.emit('reconnecting', { event: 'reconnecting', name: this.name, attempt, delayMs, fault });
        },
        clientClosed: () => this.#closedOutside(),
      },
    });
    this.ready = this.#start();
    // Nobody has to await `ready`: a give-up is reported by events and by `ready` to whoever awaits it, never as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get state(): MongooseConnectionState {
    return this.#state;
  }

  /** True while a usable server is reachable (readiness probes answer from this). */
  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** When the current `state` began (epoch ms). */
  get since(): number {
    return this.#since;
  }

  /** The last fault the connection met (a failed attempt, probe, monitor check or operation), or undefined. */
  get lastFault(): Fault | undefined {
    return this.#lastFault;
  }

  /** When `lastFault` happened (epoch ms). */
  get lastFaultAt(): number | undefined {
    return this.#lastFaultAt;
  }

  stats(): ResilientMongooseStats {
    return {
      state: this.#state,
      connects: this.#connects,
      disconnects: this.#disconnects,
      connectAttempts: this.#connectAttempts,
      probes: this.#probe.sent,
      operations: this.#operations,
      retries: this.#retries,
      outcomeUnknown: this.#outcomeUnknown,
      failed: this.#failedOperations,
      inFlight: this.#inFlight,
      waiting: this.#gate.waiting,
    };
  }

  /**
   * Runs `operation` (a function that starts the MongoDB operation and
   * returns its promise or mongoose Query) and, when it fails with a
   * transient fault that is safe to repeat, runs it again, until
   * `deadlineMs`. While the server is unreachable it waits for it rather
   * than retrying into it. A write is repeated only when nothing was sent or
   * when `idempotent: true`; otherwise a write that may have been applied
   * fails with `OutcomeUnknownError`. Errors that are not transient faults
   * (validation, duplicate key…) are rejected unchanged.
   */
  withRetry<T>(operation: RetryableOperation<T>, options?: WithRetryOptions): Promise<T> {
    const checked = options === undefined ? EMPTY_CALL : checkCallOptions('withRetry', options);
    if (typeof operation !== 'function') {
      return Promise.reject(
        new TypeError(`withRetry: the operation must be a function ({ attempt, signal }) => promise or query, got ${typeof operation}`),
      );
    }
    return this.#runner.run(operation, checked);
  }

  /**
   * Runs `fn` in a transaction and commits it, by the driver's rules with a
   * backoff and a deadline: a `TransientTransactionError` runs `fn` again
   * from the start (in a new transaction), an `UnknownTransactionCommitResult`
   * retries only the commit. A commit whose outcome is still unknown at the
   * deadline fails with `OutcomeUnknownError`. Needs a replica set (or mongos).
   */
  withTransaction<T>(fn: (session: mongo.ClientSession, attempt: TransactionAttempt) => Promise<T>, options?: WithTransactionOptions): Promise<T> {
    const checked = checkTransactionOptions(options);
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`withTransaction: fn must be a function (session, { attempt }) => promise, got ${typeof fn}`));
    }
    return runTransaction(this.#runner, () => this.connection.startSession(), fn, {
      deadlineMs: checked.deadlineMs ?? this.#options.deadlineMs ?? DEFAULTS.deadlineMs,
      signal: checked.signal,
      transactionOptions: checked.transactionOptions,
    });
  }

  /** Adds a listener; returns a function that removes it. Events are also published on `holdfast:mongoose`. */
  on<K extends keyof ResilientMongooseEvents>(name: K, listener: Listener<ResilientMongooseEvents[K]>): () => void {
    return this.#events.on(name, listener);
  }

  once<K extends keyof ResilientMongooseEvents>(name: K, listener: Listener<ResilientMongooseEvents[K]>): () => void {
    return this.#events.once(name, listener);
  }

  off<K extends keyof ResilientMongooseEvents>(name: K, listener: Listener<ResilientMongooseEvents[K]>): void {
    this.#events.off(name, listener);
  }

  /**
   * Final: stops connecting and probing, fails operations still waiting for
   * the server (`NotConnectedError`), waits for a connection attempt in
   * flight, and closes the mongoose connection (its MongoClient, pool and
   * monitors). Resolves when nothing is left; never rejects; a second call
   * returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    this.#moveTo('closed');
    this.#probe.stop();
    this.#startup.abort(new NotConnectedError('the handle was closed before the first connection was made', CLOSED_FAULT));
    this.#gate.fail(new NotConnectedError('the handle was closed while the operation waited for the server', CLOSED_FAULT));
    await this.ready.catch(() => undefined);
    // An attempt the deadline cut short would otherwise run out its server selection.
    await this.#attemptClient?.close().catch(() => undefined);
    await this.#opening;
    for (const detach of this.#detach.splice(0)) detach();
    try {
      await this.connection.close();
    } catch (error) {
      process.emitWarning(`holdfast mongoose '${this.name}': closing the connection failed: ${(error as Error).message}`, {
        type: 'HoldfastWarning',
      });
    }
    const fault = this.#gaveUp;
    this.#events.emit('close', { event: 'close', name: this.name, gaveUp: fault !== undefined, ...(fault === undefined ? {} : { fault }) });
    this.#events.clear();
  }

  async #start(): Promise<this> {
    const signal = this.#options.signal === undefined ? this.#startup.signal : AbortSignal.any([this.#startup.signal, this.#options.signal]);
    try {
      if (this.#readyState() === CONNECTING) {
        // Someone else's openUri() is under way: a second one with the same URI would return before it connects.
        await this.connection.asPromise().catch((error: unknown) => this.#noteFault(classify(error)));
      }
      if (this.#readyState() !== CONNECTED) await this.#connectWithRetry(signal);
    } catch (error) {
      void this.close();
      throw error;
    }
    if (this.#state === 'closed') throw new NotConnectedError('the handle was closed before the first connection was made', CLOSED_FAULT);
    this.#attach();
    this.#connects++;
    this.#upSince = performance.now();
    this.#moveTo('connected');
    this.#gate.open();
    this.#events.emit('open', { event: 'open', name: this.name, attempt: this.#connectAttempts });
    this.#events.emit('connected', {
      event: 'connected',
      name: this.name,
      attempts: this.#connectAttempts,
      durationMs: Math.round(performance.now() - this.#createdAt),
    });
    return this;
  }

  async #connectWithRetry(signal: AbortSignal): Promise<void> {
    const deadlineMs = this.#options.connectDeadlineMs ?? DEFAULTS.connectDeadlineMs;
    // True while an openUri() runs: one the deadline cuts short has not failed yet, its monitor's fault is the one to report.
    let running = false;
    const reported = (fault: Fault): Fault => (running && this.#lastFault !== undefined ? this.#lastFault : fault);
    // A check that fails for a reason retrying cannot fix (a certificate, an unknown host) ends the attempt at once rather
    // than after the whole server selection: the attempt's client is closed and the check's error is what the attempt throws.
    let fatal: unknown;
    const onHeartbeatFailed = (event: { failure?: unknown }): void => {
      const fault = classify(event.failure, { phase: 'connect' });
      this.#noteFault(fault);
      if (!fault.transient && running && fatal === undefined) {
        fatal = event.failure;
        void this.#attemptClient?.close().catch(() => undefined);
      }
    };
    try {
      await retry(
        async () => {
          this.#connectAttempts++;
          fatal = undefined;
          // mongoose keeps the options object; each attempt gets its own copy.
          const opening = this.connection.openUri(this.#uri, { ...this.#connectOptions });
          // openUri() made its MongoClient before its first await: its monitor reports each failed check within milliseconds.
          const client = (this.connection as { client?: mongo.MongoClient }).client;
          client?.on('serverHeartbeatFailed', onHeartbeatFailed);
          running = true;
          this.#attemptClient = client;
          const settled = (): void => {
            client?.off('serverHeartbeatFailed', onHeartbeatFailed);
            if (this.#attemptClient === client) this.#attemptClient = undefined;
          };
          this.#opening = opening.then(settled, settled);
          try {
            await opening;
          } catch (error) {
            throw fatal ?? error;
          } finally {
            running = false;
          }
        },
        {
          attempts: Number.POSITIVE_INFINITY,
          ...(deadlineMs === Number.POSITIVE_INFINITY ? {} : { deadlineMs }),
          schedule: this.#options.connectSchedule ?? DEFAULT_CONNECT_SCHEDULE,
          signal,
          operation: { idempotent: true },
          name: this.name,
          // The handle publishes these as its own 'reconnecting' and 'give-up' (one publish per event).
          publish: false,
          ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
          onRetry: (event) => {
            this.#noteFault(event.fault);
            this.#events.emit('reconnecting', {
              event: 'reconnecting',
              name: this.name,
              attempt: event.attempt + 1,
              delayMs: Math.round(event.delayMs),
              fault: event.fault,
            });
          },
          onGiveUp: (event) => {
            const fault = reported(event.fault);
            this.#noteFault(fault);
            this.#gaveUp = fault;
            this.#events.emit('give-up', { event: 'give-up', name: this.name, attempts: event.attempts, reason: event.reason, fault });
          },
        },
      );
    } catch (error) {
      let rejection = error;
      if (error instanceof RetryError && error.cause instanceof AttemptTimeoutError && this.#lastFault !== undefined) {
        rejection = new RetryError(
          this.#lastFault,
          error.attempts,
          error.reason,
          error.cause,
          `${error.cause.message}, still meeting ${this.#lastFault.code}`,
        );
      }
      const fault = classify(rejection);
      this.#gate.fail(
        new NotConnectedError(`the first connection was given up: ${fault.code}`, notSentFault(fault, fault.message), { cause: rejection }),
      );
      throw rejection;
    }
  }

  #attach(): void {
    const connection = this.connection;
    const client = connection.getClient();
    this.#client = client;
    // mongoose reports the loss from its own serverDescriptionChanged listener, before ours has read the fault: read it a microtask later.
    const onDisconnected = (): void => queueMicrotask(() => this.#lost(this.#recentFault() ?? LOST_FAULT));
    const onReconnected = (): void => this.#regained();
    const onClose = (): void => this.#closedOutside();
    const onError = (error: unknown): void => this.#noteFault(classify(error));
    const onHeartbeatFailed = (event: { failure?: unknown }): void => this.#noteFault(classify(event.failure, { phase: 'connect' }));
    const onDescription = (event: { newDescription?: { error?: unknown } }): void => {
      const error = event.newDescription?.error;
      if (typeof error === 'object' && error !== null) this.#noteFault(classify(error, { phase: 'connect' }));
    };
    connection.on('disconnected', onDisconnected);
    connection.on('reconnected', onReconnected);
    connection.on('connected', onReconnected);
    connection.on('close', onClose);
    // With a listener here, an 'error' mongoose emits can never crash the process (#11783).
    connection.on('error', onError);
    client.on('serverHeartbeatFailed', onHeartbeatFailed);
    client.on('serverDescriptionChanged', onDescription);
    client.on('error', onError);
    this.#detach.push(() => {
      connection.off('disconnected', onDisconnected);
      connection.off('reconnected', onReconnected);
      connection.off('connected', onReconnected);
      connection.off('close', onClose);
      connection.off('error', onError);
      client.off('serverHeartbeatFailed', onHeartbeatFailed);
      client.off('serverDescriptionChanged', onDescription);
      client.off('error', onError);
    });
  }

  #onOperationFault(fault: Fault, error: unknown): void {
    if (!fault.transient) return;
    this.#noteFault(fault);
    if (meansUnreachable(fault, error)) this.#lost(fault);
  }

  /** The server stopped being reachable: operations wait, the probe looks for it. */
  #lost(fault: Fault): void {
    if (this.#state !== 'connected') return;
    this.#disconnects++;
    this.#downSince = performance.now();
    this.#gate.close();
    this.#probeFailures = 0;
    this.#moveTo('reconnecting');
    this.#reportLoss(fault, this.#inFlight - this.#gate.waiting, true);
    // A listener may have closed the handle meanwhile.
    if (this.state === 'reconnecting') this.#probe.start();
  }

  #regained(): void {
    if (this.#state !== 'reconnecting' && this.#state !== 'disconnected') return;
    if (this.connection.getClient() !== this.#client) {
      // The connection was opened again outside this handle: follow its new client.
      for (const detach of this.#detach.splice(0)) detach();
      this.#attach();
    }
    this.#probe.stop();
    this.#connects++;
    this.#upSince = performance.now();
    const downtimeMs = Math.round(performance.now() - this.#downSince);
    this.#moveTo('connected');
    this.#gate.open();
    this.#events.emit('open', { event: 'open', name: this.name, attempt: this.#probeFailures + 1 });
    this.#events.emit('reconnected', { event: 'reconnected', name: this.name, downtimeMs });
  }

  #closedOutside(): void {
    if (this.#state === 'closed' || this.#state === 'disconnected' || this.#state === 'connecting') return;
    this.#probe.stop();
    this.#noteFault(CLOSED_OUTSIDE_FAULT);
    const wasConnected = this.#state === 'connected';
    if (wasConnected) {
      this.#disconnects++;
      this.#downSince = performance.now();
    }
    this.#gate.fail(new NotConnectedError('the mongoose connection was closed outside this handle', CLOSED_OUTSIDE_FAULT));
    this.#moveTo('disconnected');
    if (wasConnected) this.#reportLoss(CLOSED_OUTSIDE_FAULT, this.#inFlight, false);
  }

  /** `disconnect` (the shared event) and `disconnected` (mongoose's name), one payload. */
  #reportLoss(fault: Fault, messages: number, willReconnect: boolean): void {
    const loss = {
      name: this.name,
      fault,
      unconfirmed: { messages, bytes: 0 },
      uptimeMs: Math.round(performance.now() - this.#upSince),
      willReconnect,
    };
    this.#events.emit('disconnect', { event: 'disconnect', ...loss });
    this.#events.emit('disconnected', { event: 'disconnected', ...loss });
  }

  /** mongoose's readyState, as the number it is (its enum type differs between mongoose 8 and 9). */
  #readyState(): number {
    const state: number = this.connection.readyState;
    return state;
  }

  #ping(): Promise<unknown> {
    const db = this.connection.db;
    if (db === undefined)
      return Promise.reject(Object.assign(new Error('the mongoose connection has no database handle'), { name: 'MongoNotConnectedError' }));
    return db.command({ ping: 1 });
  }

  #serverSelectionTimeoutMS(): number {
    const fromClient = (this.#client?.options as { serverSelectionTimeoutMS?: unknown } | undefined)?.serverSelectionTimeoutMS;
    return typeof fromClient === 'number' && fromClient > 0 ? fromClient : DEFAULTS.serverSelectionTimeoutMS;
  }

  /** The last fault, when it is fresh enough to be the reason for what just happened. */
  #recentFault(): Fault | undefined {
    return this.#lastFaultAt !== undefined && Date.now() - this.#lastFaultAt < RECENT_FAULT_MS ? this.#lastFault : undefined;
  }

  #noteFault(fault: Fault): void {
    this.#lastFault = fault;
    this.#lastFaultAt = Date.now();
  }

  #moveTo(to: MongooseConnectionState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#since = Date.now();
    this.#events.emit('state', { event: 'state', name: this.name, from, to });
  }
}

/**
 * Connects mongoose (the global instance, or the `mongoose` option's
 * instance or connection) and resolves once the first connection is up,
 * retrying with backoff under `connectDeadlineMs` and `signal`. Faults that
 * retrying cannot fix (bad credentials, a TLS error, an invalid URI, an
 * unknown host) reject at once with a hint. The handle never makes a second
 * MongoClient for its connection.
 */
export async function connectMongoose(uri: string, options?: ResilientMongooseOptions): Promise<ResilientMongoose> {
  return new ResilientMongoose(uri, options).ready;
}

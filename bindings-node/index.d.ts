// Types of the `knocker` facade (index.js). Data shapes come from the napi-generated
// native.d.ts (checked by `node scripts/check-dts.js`).
import type {
  OpenOptions, ReceiveResult, JsEvent, JsDelivery, JsAttempt, EventFilter, DeliveryFilter,
  AuditFilter, PruneEventsArgs, PruneOrphansArgs, PruneEventsResult, PruneDeliveriesResult,
  PruneAudit, Stats, WorkerState, RetentionPolicy, RetentionPass, ProviderInfo, VectorVerdict,
  VerifyRequest, OperatorAudit, OperatorAuditFilter, Metrics, EndpointMetrics, Histogram, LogRecord,
} from './native'

export type {
  OpenOptions, ReceiveResult, EventFilter, DeliveryFilter, AuditFilter, PruneEventsArgs,
  OperatorAudit, OperatorAuditFilter,
  PruneOrphansArgs, PruneEventsResult, PruneDeliveriesResult, PruneAudit, Stats, WorkerState,
  RetentionPolicy, RetentionPass, ProviderInfo, VectorVerdict, VerifyRequest, Metrics, EndpointMetrics,
  Histogram, LogRecord,
}

/** `open()` options: the native ones plus `onLog`, called with every core log event (also
 * published on `diagnostics_channel.channel('knocker')`). */
export type KnockerOptions = OpenOptions & { onLog?: (record: LogRecord) => void }
export type Event = JsEvent
export type Delivery = JsDelivery
export type Attempt = JsAttempt

export type Body = Buffer | Uint8Array | ArrayBuffer | string
export type HeaderInput =
  | Record<string, string | string[] | number | undefined>
  | Array<[string, string]>
  | Iterable<[string, string]> & { get(name: string): unknown }

export interface ReceiveInput {
  endpoint: string
  body?: Body
  headers?: HeaderInput
  /** Object, pairs, URLSearchParams or a query string. */
  query?: HeaderInput | string
  method?: string
  url?: string
  eventType?: string
  providerEventId?: string
  providerDeliveryId?: string
  dedupeKey?: string
}

export interface IngestInput extends ReceiveInput {
  /** true (default), false (stored as an orphan; needs signatureError) or null (not verified). */
  signatureValid?: boolean | null
  signatureError?: string
}

export type KeyFunction = (request: VerifyRequest) => string | null | undefined

export interface EndpointConfig {
  name: string
  /** Default `/webhooks/<name>`. */
  path?: string
  provider?: string
  secrets?: Array<string | Buffer> | string | Buffer
  providerOptions?: Record<string, unknown>
  enabled?: boolean
  verificationRequired?: boolean
  maxBodyBytes?: number
  maxAttempts?: number
  backoffBaseS?: number
  backoffMaxS?: number
  bodyHashDedupe?: boolean
  dedupeKey?: KeyFunction
  eventKey?: KeyFunction
  deliveryKey?: KeyFunction
  eventTypeKey?: KeyFunction
}

export interface VerifyOutcome {
  valid: boolean
  signatureError?: string | null
  errorCode?: string | null
  secretIndex?: number | null
  providerEventId?: string | null
  providerDeliveryId?: string | null
  eventType?: string | null
  idempotencyKey?: string | null
}

export interface CustomProvider {
  name: string
  version: string
  requiresSecrets?: boolean
  /** Synchronous. A throw becomes an invalid delivery ("provider error: ..."). */
  verify(request: VerifyRequest, ctx: { secrets: Buffer[]; options: Record<string, unknown>; nowS: number }): VerifyOutcome
}

/** The handler transaction: writes commit together with `handled`, or roll back on a throw. */
export interface HandlerTx {
  query(sql: string, params?: unknown[]): Array<Record<string, unknown>>
  execute(sql: string, params?: unknown[]): number
}

export type SyncHandler = (event: Event, tx: HandlerTx) => void
/** Runs outside any transaction (no tx); its outcome is committed after it settles. */
export type AsyncHandler = (event: Event) => Promise<unknown>

export interface HandlerKey {
  endpoint: string
  eventType?: string | null
  /** Default: whether the function is declared `async`. */
  async?: boolean
}

export interface WorkerOptions {
  workerId?: string
  signal?: AbortSignal
  idlePollMs?: number
  claimBatch?: number
  onError?: (error: KnockerError) => void
}

export declare class KnockerError extends Error {
  /** not_found | invalid_state | invalid_argument | unknown_provider |
   * verification_not_configured | schema_too_new | not_knocker_database | busy | closed |
   * storage | lease_lost */
  readonly code: string
  constructor(code: string, message: string)
}

/** Throw from a handler to retry after `afterS` seconds (counts an attempt). */
export declare class Retry extends Error {
  readonly afterS: number
  constructor(afterS?: number, reason?: string)
  constructor(opts: { afterS: number; reason?: string })
}

/** Throw from a handler to dead-letter the event now. */
export declare class Discard extends Error {
  constructor(reason?: string)
}

export declare class Knocker {
  constructor(path: string, options?: KnockerOptions)
  readonly path: string
  readonly closed: boolean
  close(): void
  addEndpoint(config: EndpointConfig): void
  registerProvider(provider: CustomProvider): void
  providerVersions(): Record<string, string>
  endpointNames(): string[]
  receive(input: ReceiveInput): ReceiveResult
  receiveAsync(input: ReceiveInput): Promise<ReceiveResult>
  ingest(input: IngestInput): ReceiveResult
  ingestAsync(input: IngestInput): Promise<ReceiveResult>
  getEvent(id: number): Event
  listEvents(filter?: EventFilter): Event[]
  getDelivery(id: number): Delivery
  listDeliveries(filter?: DeliveryFilter): Delivery[]
  listAttempts(eventId: number): Attempt[]
  stats(): Stats
  /** Counters and histograms of this handle (process-local) plus the file's gauges. */
  metrics(): Metrics
  /** Prometheus text exposition (0.0.4) of `metrics()`. */
  prometheusText(): string
  ignore(eventId: number): void
  replay(eventId: number): void
  requeue(eventId: number): void
  replayDelivery(deliveryId: number): void
  pruneEvents(args: PruneEventsArgs): PruneEventsResult
  pruneOrphanDeliveries(args: PruneOrphansArgs): PruneDeliveriesResult
  listPruneAudits(filter?: AuditFilter): PruneAudit[]
  listOperatorAudits(filter?: OperatorAuditFilter): OperatorAudit[]
  executeBatch(sql: string): void
  runRetentionPass(policy: RetentionPolicy): Promise<RetentionPass>
  runRetention(policy: RetentionPolicy, opts?: { signal?: AbortSignal; onError?: (e: KnockerError) => void }): Promise<number>
  handle(key: HandlerKey, handler: SyncHandler | AsyncHandler): typeof handler
  handle(endpoint: string, handler: SyncHandler | AsyncHandler): typeof handler
  handle(endpoint: string, eventType: string | null, handler: SyncHandler | AsyncHandler): typeof handler
  drain(opts?: { maxEvents?: number }): Promise<number>
  runWorker(opts?: WorkerOptions): Promise<void>
  workerStates(): WorkerState[]
}

export declare function open(path: string, options?: KnockerOptions): Knocker
export declare function providerCatalogue(): ProviderInfo[]
/** Test helper: a curated provider's verdict at an injected time (conformance vectors). */
export declare function verifyVector(v: {
  provider: string
  method?: string
  url?: string
  headers?: HeaderInput
  query?: HeaderInput | string
  body?: Body
  secrets?: Array<string | Buffer>
  options?: Record<string, unknown>
  now: number
}): VectorVerdict

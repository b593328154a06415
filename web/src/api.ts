/** Typed client for the Zhizao REST API (`/api/v1`). */

export type EquipmentState =
  | 'running'
  | 'idle'
  | 'setup'
  | 'planned_stop'
  | 'blocked'
  | 'starved'
  | 'down'
  | 'offline';

export interface User {
  id: number;
  username: string;
  role: string;
  tenant_id: number;
}

export interface Me extends User {
  tenant_name: string;
}

export interface LoginResponse {
  token: string;
  user: User;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Line {
  id: number;
  area_id: number;
  code: string;
  name: string;
  created_at: string;
}

export interface Equipment {
  id: number;
  line_id: number;
  code: string;
  name: string;
  equipment_type: string;
  work_cell: string | null;
  attributes: Record<string, unknown>;
  created_at: string;
}

export type EquipmentInput = Omit<Equipment, 'id' | 'created_at'>;

export type EquipmentSort = 'code' | '-code' | 'name' | '-name' | 'id';

export interface EquipmentQuery {
  limit: number;
  offset: number;
  sort?: EquipmentSort;
  q?: string;
  line_id?: number;
  equipment_type?: string;
}

export type StateCounts = Record<EquipmentState, number>;

export interface StateEvent {
  type: 'state';
  seq: number;
  ts: number;
  equipment_id: number;
  equipment_code: string;
  line_id: number;
  state: EquipmentState;
  previous: EquipmentState | null;
}

export interface CountersEvent {
  type: 'counters';
  seq: number;
  ts: number;
  equipment_id: number;
  line_id: number;
  good_today: number;
  scrap_today: number;
  temperature: number | null;
}

export interface HelloMessage {
  type: 'hello';
  scope: string;
  seq: number;
  /** After a reconnect with `since`: how many missed messages follow. */
  replayed?: number;
  /** What was missed is no longer kept: reload the snapshot. */
  resync?: boolean;
}

export type AlarmSeverity = 'low' | 'medium' | 'high' | 'critical';

/** An alarm that is not over (see docs/alarms.md for the lifecycle). */
export interface Alarm {
  id: number;
  rule: string;
  name: string;
  severity: AlarmSeverity;
  source: string;
  state: 'active_unacked' | 'active_acked' | 'cleared_unacked';
  raised_at: number;
  cleared_at: number | null;
  acknowledged: { by: string; comment: string; at: number } | null;
  shelved_until: number | null;
  value: number | null;
  flood: boolean;
}

export type AlarmEventKind =
  | 'raised'
  | 'reactivated'
  | 'acknowledged'
  | 'cleared'
  | 'closed'
  | 'shelved'
  | 'unshelved'
  | 'flood_started'
  | 'flood_ended';

export interface AlarmEvent {
  at: number;
  kind: AlarmEventKind;
  alarm: Alarm | null;
  notify: boolean;
}

export interface AlarmMessage {
  type: 'alarm';
  seq: number;
  ts: number;
  event: AlarmEvent;
}

/** A line's running-shift KPIs, pushed when they change. */
export interface LineKpiMessage {
  type: 'line_kpi';
  seq: number;
  ts: number;
  line_id: number;
  date: string | null;
  shift: string | null;
  start: number;
  end: number;
  kpis: Kpis;
  quantities: { pq: number; gq: number; sq: number; rq: number };
  ideal_output: number | null;
}

/** A new version of the schedule was stored. */
export interface ScheduleMessage {
  type: 'schedule';
  seq: number;
  ts: number;
  version: number;
  reason: string;
  by_user: string;
}

/** A sample of an inspection characteristic was recorded and judged. */
export interface QualitySampleMessage {
  type: 'quality_sample';
  seq: number;
  ts: number;
  characteristic_id: number;
  code: string;
  number: number;
  out_of_control: boolean;
  rules: number[];
}

export type LiveMessage =
  | HelloMessage
  | StateEvent
  | CountersEvent
  | AlarmMessage
  | LineKpiMessage
  | QualitySampleMessage
  | ScheduleMessage;

export const listAlarms = () => request<{ active: Alarm[]; recent: AlarmEvent[] }>('GET', '/alarms');

/** One alarm event as the journal keeps it. */
export interface JournalEntry {
  alarm_id: number | null;
  at: number;
  kind: AlarmEventKind;
  rule: string | null;
  name: string | null;
  source: string | null;
  severity: AlarmSeverity | null;
  state: string | null;
  value: number | null;
  by_user: string | null;
  comment: string | null;
  flood: boolean;
}

export const alarmHistory = (query: { limit: number; offset: number }) =>
  request<Page<JournalEntry>>('GET', '/alarms/history', undefined, query);

export const acknowledgeAlarm = (id: number, comment: string) =>
  request<AlarmEvent>('POST', `/alarms/${id}/acknowledge`, { comment });

export const shelveAlarm = (id: number, minutes: number) =>
  request<AlarmEvent>('POST', `/alarms/${id}/shelve`, { minutes });

export interface LiveEquipment {
  id: number;
  code: string;
  name: string;
  equipment_type: string;
  state: EquipmentState;
  since: number;
  good_today: number;
  scrap_today: number;
  temperature: number | null;
}

export interface LiveLine {
  id: number;
  code: string;
  name: string;
  site_code: string;
  good_today: number;
  scrap_today: number;
  equipment: LiveEquipment[];
}

export interface Snapshot {
  ts: number;
  /** Sequence number of the last live message reflected in this snapshot. */
  seq: number;
  state_counts: StateCounts;
  lines: LiveLine[];
  events: StateEvent[];
}

/** A registered device with its traffic and live state. */
export interface Device {
  id: number;
  code: string;
  name: string;
  topic_prefix: string;
  username: string;
  mapping: Record<string, unknown> | null;
  created_at: number;
  last_seen: number | null;
  messages: number;
  points: number;
  errors: number;
  last_error: string | null;
  last_error_at: number | null;
  /** Connected now, or heard from through the broker in the last minute. */
  online: boolean;
  /** Sparkplug B edge nodes under the device's prefix. */
  edge_nodes: EdgeNode[];
}

export interface EdgeNode {
  group: string;
  node: string;
  online: boolean;
  devices: { device: string; online: boolean }[];
}

export interface DeviceInput {
  code: string;
  name?: string;
  topic_prefix: string;
}

export interface CreatedDevice {
  device: Device;
  password: string;
}

export type SeriesTime = number | string;

export type SeriesAggregate = 'count' | 'sum' | 'mean' | 'min' | 'max' | 'first' | 'last';

/** What an aggregate query reports for an empty bucket: nothing (`none`), `null`, or the previous value. */
export type SeriesFill = 'none' | 'null' | 'previous';

/** Body of `POST /series/query`. */
export interface SeriesQuery {
  measurement: string;
  /** Field names; all fields when left out. */
  fields?: string[];
  /** Tag equality filters, e.g. `{ line: 'L-CUT' }`. */
  where?: Record<string, string>;
  start?: SeriesTime;
  end?: SeriesTime;
  aggregate?: SeriesAggregate;
  /** Bucket width such as `30s`, `1m`, `1h`; needs `start` and `end`. */
  every?: `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;
  group_by?: string[];
  fill?: SeriesFill;
  /** Raw queries: most points per response; aggregates: most buckets per series. */
  limit?: number;
  /** `next_cursor` of the previous page of a raw query. */
  cursor?: string;
}

export type SeriesValue = number | boolean | string | null;

export interface Series {
  /** All tags of a raw series; the `group_by` tags of an aggregated one. */
  tags: Record<string, string>;
  field: string;
  /** `[epoch ms, value]`; with buckets, the time is the bucket's start. */
  points: [number, SeriesValue][];
}

export interface SeriesResult {
  series: Series[];
  /** Set when a raw query has more points than `limit`. */
  next_cursor: string | null;
}

/** An error response, carrying the server's `{"error": {...}}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'zhizao.token';
const USER_KEY = 'zhizao.user';

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function getUser(): User | null {
  const raw = localStorage.getItem(USER_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as User;
  } catch {
    return null;
  }
}

export function clearSession(): void {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

let unauthorizedHandler: () => void = () => {};

/** Called whenever an authenticated request gets 401 (after the session is cleared). */
export function onUnauthorized(handler: () => void): void {
  unauthorizedHandler = handler;
}

type Query = Record<string, string | number | undefined>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  const res = await fetch(withQuery(`/api/v1${path}`, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }

  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; field?: string | null } } | null)?.error;
    const apiError = new ApiError(
      res.status,
      err?.code ?? 'http_error',
      err?.message ?? `HTTP ${res.status} ${res.statusText}`,
      err?.field ?? null,
    );
    if (res.status === 401 && path !== '/auth/login') {
      clearSession();
      unauthorizedHandler();
    }
    throw apiError;
  }
  return data as T;
}

export async function login(username: string, password: string): Promise<LoginResponse> {
  const res = await request<LoginResponse>('POST', '/auth/login', { username, password });
  localStorage.setItem(TOKEN_KEY, res.token);
  localStorage.setItem(USER_KEY, JSON.stringify(res.user));
  return res;
}

export const me = () => request<Me>('GET', '/auth/me');

export const listLines = (query: { limit: number; offset: number; sort?: string }) =>
  request<Page<Line>>('GET', '/lines', undefined, query);

/** Every line, fetched page by page. */
export async function listAllLines(): Promise<Line[]> {
  const lines: Line[] = [];
  for (;;) {
    const page = await listLines({ limit: 100, offset: lines.length, sort: 'code' });
    lines.push(...page.items);
    if (page.items.length === 0 || lines.length >= page.total) return lines;
  }
}

/** A downtime reason of the tenant's tree. */
export interface Reason {
  code: string;
  zh: string;
  en: string;
  class: 'breakdown' | 'minor_stop' | 'blocked' | 'starved' | 'planned_stop' | 'idle';
}

/** One stop of a machine, with the reason given, if any. */
export interface Stop {
  start: number;
  end: number | null;
  state: EquipmentState;
  seconds: number;
  reason: Reason | null;
  comment: string | null;
  by: string | null;
}

export const reasonTree = () => request<{ tree: { reasons: Reason[] }; default: boolean }>('GET', '/downtime-reasons');

export const machineStops = (equipmentId: number) =>
  request<Stop[]>('GET', `/equipment/${equipmentId}/stops`);

export const giveStopReason = (equipmentId: number, start: number, code: string, comment: string) =>
  request<Stop>('PUT', `/equipment/${equipmentId}/stops/${start}/reason`, { code, comment });

export const listEquipment = (query: EquipmentQuery) =>
  request<Page<Equipment>>('GET', '/equipment', undefined, { ...query });

export const createEquipment = (input: EquipmentInput) =>
  request<Equipment>('POST', '/equipment', input);

export const updateEquipment = (id: number, patch: Partial<EquipmentInput>) =>
  request<Equipment>('PATCH', `/equipment/${id}`, patch);

export const deleteEquipment = (id: number) => request<void>('DELETE', `/equipment/${id}`);

export const listDevices = (query: { limit: number; offset: number }) =>
  request<Page<Device>>('GET', '/devices', undefined, query);

export const createDevice = (input: DeviceInput) => request<CreatedDevice>('POST', '/devices', input);

export const deleteDevice = (id: number) => request<void>('DELETE', `/devices/${id}`);

/** A refused message, with the start of what was sent. */
export interface Refused {
  at: number;
  topic: string;
  reason: string;
  payload: string;
  payload_bytes: number;
}

export const deviceRejections = (id: number) =>
  request<{ items: Refused[] }>('GET', `/devices/${id}/rejections`);

export const renewDevicePassword = (id: number) =>
  request<{ password: string }>('POST', `/devices/${id}/password`, {});

export const querySeries = (query: SeriesQuery) => request<SeriesResult>('POST', '/series/query', query);

export const liveSnapshot = () => request<Snapshot>('GET', '/live/snapshot');

export interface Timeline {
  from: number;
  to: number;
  machines: { equipment_id: number; code: string; segments: { start: number; end: number; state: EquipmentState }[] }[];
}

export const liveTimeline = (lineId: number, hours: number) =>
  request<Timeline>('GET', '/live/timeline', undefined, { line_id: lineId, hours });

/** ISO 22400-2 KPIs of a period; null where undefined. */
export interface Kpis {
  availability: number | null;
  effectiveness: number | null;
  quality_ratio: number | null;
  oee_index: number | null;
  [name: string]: number | null;
}

export interface LineShiftKpi {
  line_id: number;
  code: string;
  name: string;
  site_id: number;
  date: string | null;
  shift: string | null;
  machines: number;
  /** Pieces at ideal cycle time in the planned busy time so far. */
  ideal_output: number | null;
  period: {
    start: number;
    end: number;
    kpis: Kpis;
    quantities: { pq: number; gq: number; sq: number; rq: number };
    losses: { breakdown: number; minor_stop: number; no_data: number };
  } | null;
}

export const lineKpis = () => request<{ items: LineShiftKpi[] }>('GET', '/kpi/lines');

/** WebSocket URL for the live feed, on the same host as the page. */
export function liveSocketUrl(scope: string, since?: number): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const params = new URLSearchParams({ token: getToken() ?? '', scope });
  if (since !== undefined && since > 0) params.set('since', String(since));
  return `${proto}//${location.host}/api/v1/live?${params.toString()}`;
}

/** Every piece of equipment, fetched page by page. */
export async function listAllEquipment(): Promise<Equipment[]> {
  const items: Equipment[] = [];
  for (;;) {
    const page = await listEquipment({ limit: 500, offset: items.length, sort: 'code' });
    items.push(...page.items);
    if (page.items.length === 0 || items.length >= page.total) return items;
  }
}

/** One state rule: the first whose `when` holds over a machine's latest values names its state. */
export interface StateRule {
  state: EquipmentState;
  when: string;
}

export interface TypeStateRules {
  equipment_type: string;
  rules: StateRule[];
}

export interface StateRuleSet {
  types: TypeStateRules[];
}

export const getStateRules = () => request<StateRuleSet>('GET', '/state-rules');

export const putStateRules = (set: StateRuleSet) => request<StateRuleSet>('PUT', '/state-rules', set);

export type ReasonClass = Reason['class'];

/** The reasons in order; a child's code is its parent's plus `.segment`, and it comes after the parent. */
export interface ReasonTree {
  reasons: Reason[];
}

export const putReasonTree = (tree: ReasonTree) =>
  request<{ tree: ReasonTree; default: boolean }>('PUT', '/downtime-reasons', tree);

export type AlarmCondition =
  | { kind: 'above' | 'below'; field: string; limit: number; deadband: number }
  | { kind: 'rate_of_change'; field: string; per_second: number }
  | { kind: 'flatline'; field: string; for_s: number; epsilon: number }
  | { kind: 'no_data'; for_s: number }
  | { kind: 'state_longer'; state: string; for_s: number }
  | { kind: 'expression'; expr: string };

export type AlarmConditionKind = AlarmCondition['kind'];

export interface AlarmRule {
  id: string;
  name: string;
  severity: AlarmSeverity;
  condition: AlarmCondition;
  /** A rule switched off raises nothing. */
  enabled: boolean;
  on_delay_s: number;
  off_delay_s: number;
  /** Equipment codes the rule watches; every machine when null. */
  sources: string[] | null;
}

export interface AlarmRuleSet {
  rules: AlarmRule[];
}

export const getAlarmRules = () => request<AlarmRuleSet>('GET', '/alarm-rules');

export const putAlarmRules = (set: AlarmRuleSet) => request<AlarmRuleSet>('PUT', '/alarm-rules', set);

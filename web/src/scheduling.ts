/**
 * Typed client for scheduling (`/schedule…`): the current version of the
 * plant's schedule, runs, shop-floor events, planners' moves and locks,
 * dispatch lists. Also the small pure helpers the Gantt and the terminal
 * share (working-time gaps, item colours, a move's quick check).
 */
import { ApiError, request } from './api';
import { t } from './i18n';

export type Objective = 'balanced' | 'due_dates' | 'makespan';
export const OBJECTIVES: Objective[] = ['balanced', 'due_dates', 'makespan'];

export interface ScheduleMachine {
  /** `L-TRN-2`: the work centre's code and the machine's number in it. */
  code: string;
  centre: string;
  name: string;
}

export interface Breakdown {
  machine: string;
  from_ms: number;
  to_ms: number;
  note: string;
}

export interface PlannedOp {
  work_order_id: number;
  number: string;
  item: string;
  seq: number;
  centre: string;
  machine: string;
  start_ms: number;
  end_ms: number;
  /** When the machine's setup for it begins, if it needs one. */
  setup_start_ms?: number;
  /** Kept where it is by a planner. */
  locked: boolean;
  /** Running, locked or inside the freeze window when the version was made. */
  fixed: boolean;
  quantity: number;
  due_ms: number;
}

export interface ScheduledOrder {
  work_order_id: number;
  number: string;
  item: string;
  due_ms: number;
  completion_ms: number;
  tardiness_min: number;
  rush: boolean;
}

export type WaitedFor = 'predecessor' | 'machine' | 'release' | 'fixed' | 'calendar';

export interface LateOrder {
  work_order_id: number;
  number: string;
  tardiness_min: number;
  bottleneck: string | null;
  chain: { number: string; seq: number; machine: string; start_ms: number; end_ms: number; waited_for: WaitedFor | string }[];
}

export interface ScheduleCosts {
  makespan_ms: number;
  weighted_tardiness_min: number;
  setup_min: number;
  disruption_min: number;
  moved: number;
  late_orders: number;
}

export interface Schedule {
  /** 0 for a move only tried (`dry_run`). */
  id: number;
  reason: string;
  by_user: string;
  created_at: number;
  origin_ms: number;
  objective: Objective;
  freeze_minutes: number;
  machines: ScheduleMachine[];
  /** Site working time as `[from, to)` pairs; null: around the clock. */
  working: [number, number][] | null;
  breakdowns: Breakdown[];
  rush: number[];
  overruns: { work_order_id: number; seq: number; minutes: number }[];
  operations: PlannedOp[];
  orders: ScheduledOrder[];
  late: LateOrder[];
  costs: ScheduleCosts;
}

export interface ScheduleVersion {
  id: number;
  reason: string;
  by_user: string;
  created_at: number;
}

export interface DispatchList {
  machine: ScheduleMachine;
  operations: PlannedOp[];
  schedule_id: number;
  created_at: number;
}

export type ScheduleEvent =
  | { kind: 'breakdown'; machine: string; minutes: number; note?: string }
  | { kind: 'repaired'; machine: string }
  | { kind: 'rush'; work_order_id: number }
  | { kind: 'overrun'; work_order_id: number; seq: number; minutes: number };

export const currentSchedule = () => request<Schedule | null>('GET', '/schedule');
export const runSchedule = (body: { objective?: Objective; time_limit_s?: number; freeze_minutes?: number }) =>
  request<Schedule>('POST', '/schedule/runs', body);
export const postScheduleEvent = (event: ScheduleEvent) => request<Schedule>('POST', '/schedule/events', event);
export const moveOperation = (workOrderId: number, seq: number, machine: string, startMs: number, dryRun: boolean) =>
  request<Schedule>('PATCH', `/schedule/operations/${workOrderId}/${seq}`, { machine, start_ms: startMs, dry_run: dryRun });
export const lockOperation = (workOrderId: number, seq: number, locked: boolean) =>
  request<Schedule>('PUT', `/schedule/operations/${workOrderId}/${seq}/lock`, { locked });
export const scheduleVersions = () => request<ScheduleVersion[]>('GET', '/schedule/versions');
export const scheduleVersion = (id: number) => request<Schedule>('GET', `/schedule/versions/${id}`);

/** A machine's dispatch list; `null` before the first schedule. */
/** Plan against actual: hours of scheduled work due by now and earned. */
export interface ScheduleProgress {
  at_ms: number;
  schedule_id: number;
  attainment_pct: number | null;
  centres: { centre: string; planned_hours: number; earned_hours: number }[];
  behind: {
    work_order_id: number;
    number: string;
    item: string;
    planned_pct: number;
    actual_pct: number;
    due_ms: number;
  }[];
}

export const scheduleProgress = () => request<ScheduleProgress | null>('GET', '/schedule/progress');

export async function dispatchList(machine: string): Promise<DispatchList | null> {
  try {
    return await request<DispatchList>('GET', '/schedule/dispatch', undefined, { machine });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** An operation's key: work order id and sequence number. */
export const opKey = (op: { work_order_id: number; seq: number }) => `${op.work_order_id}/${op.seq}`;

/**
 * Non-working time inside `[from, to)`: the gaps between working intervals,
 * and before the first. After the last interval the calendar ends and the
 * scheduler counts the time as working, so nothing is shaded there.
 */
export function nonWorking(working: [number, number][] | null, from: number, to: number): [number, number][] {
  if (!working || working.length === 0) return [];
  const out: [number, number][] = [];
  let at = from;
  for (const [a, b] of working) {
    if (a > at) out.push([at, Math.min(a, to)]);
    at = Math.max(at, b);
    if (at >= to) break;
  }
  return out.filter(([a, b]) => b > a && b > from);
}

/** A hue per item, the items in code order a golden angle apart, so few items get clearly different colours. */
export function itemHues(items: Iterable<string>): Map<string, number> {
  const sorted = [...new Set(items)].sort();
  return new Map(sorted.map((item, i) => [item, Math.round((i * 137.508 + 195) % 360)]));
}

/** An order without a due date carries the largest integer as its due time. */
export const hasDue = (ms: number) => ms < 8.64e15;

/** The operation before `op` in its work order, if it is still scheduled. */
export function previousOp(ops: PlannedOp[], op: PlannedOp): PlannedOp | null {
  let best: PlannedOp | null = null;
  for (const o of ops) {
    if (o.work_order_id === op.work_order_id && o.seq < op.seq && (!best || o.seq > best.seq)) best = o;
  }
  return best;
}

const REASONS = ['run', 'breakdown', 'repaired', 'rush', 'overrun', 'move', 'lock', 'unlock'] as const;
type ReasonKind = (typeof REASONS)[number];

/**
 * The reason a version was made, in the reader's language. The server
 * writes it as a kind and what it names (`breakdown L-TRN-1`,
 * `move 9/10`); work order ids are shown as their numbers when known.
 */
export function reasonText(reason: string, ops: PlannedOp[] = []): string {
  const space = reason.indexOf(' ');
  const kind = space < 0 ? reason : reason.slice(0, space);
  let what = space < 0 ? '' : reason.slice(space + 1);
  const key = /^(\d+)\/(\d+)$/.exec(what);
  if (key) {
    const number = ops.find((o) => o.work_order_id === Number(key[1]))?.number ?? `#${key[1]}`;
    what = `${number} ${t('sched.tip.op', { seq: key[2] ?? '' })}`;
  }
  const numbered = /^(\S+) (\d+)$/.exec(what);
  if (numbered) what = `${numbered[1]} ${t('sched.tip.op', { seq: numbered[2] ?? '' })}`;
  if (!(REASONS as readonly string[]).includes(kind)) return reason;
  return t(`sched.reason.${kind as ReasonKind}`, { what }).trim();
}

/** Typed client for production planning: the order book, MRP runs, capacity, promising, work orders. */
import { ApiError, getToken, request, type Page } from './api';

export type OrderStatus = 'open' | 'in_production' | 'shipped' | 'cancelled';
export const ORDER_STATUSES: OrderStatus[] = ['open', 'in_production', 'shipped', 'cancelled'];

export interface CustomerOrder {
  id: number;
  number: string;
  customer: string;
  item: string;
  quantity: number;
  due_date: string;
  priority: number;
  status: OrderStatus;
  note: string;
  created_at: number;
  updated_at: number;
}

export type OrderInput = Pick<CustomerOrder, 'number' | 'customer' | 'item' | 'quantity' | 'due_date' | 'priority' | 'status' | 'note'>;

export interface OrderQuery {
  limit: number;
  offset: number;
  sort?: string;
  status?: string;
  q?: string;
  due_from?: string;
  due_to?: string;
}

export interface ImportReport {
  rows: number;
  accepted_rows: number;
  rejected_rows: number;
  applied: boolean;
  inserted: number;
  updated: number;
  ignored_columns: string[];
  errors: { row: number; column: string | null; message: string }[];
}

export interface MasterItem {
  code: string;
  name: string;
  kind: 'raw' | 'purchased' | 'semi_finished' | 'finished' | 'phantom';
  uom: string;
  lead_time_weeks: number;
}

export interface MasterWorkCentre {
  code: string;
  name: string;
  machines: number;
  hours_per_week: number;
  efficiency: number;
}

export interface MasterOperation {
  item: string;
  seq: number;
  work_centre: string;
  alternatives: string[];
}

/** Master data as stored, every field (what `PUT /plan/master` takes). */
export interface FullMasterData {
  units: { from: string; to: string; factor: number }[];
  items: (MasterItem & {
    lot: { rule: 'lot_for_lot' | 'fixed' | 'min_multiple' | 'period_order_quantity'; quantity?: number; minimum?: number; multiple?: number; buckets?: number };
    safety_stock: number;
    on_hand: number;
    allocated: number;
  })[];
  bom: { parent: string; component: string; quantity: number; uom?: string; scrap_pct: number; valid_from?: string; valid_to?: string }[];
  work_centres: (Omit<MasterWorkCentre, 'hours_per_week'> & { hours_per_week?: number | null })[];
  routings: (MasterOperation & { setup_hours: number; run_hours_per_unit: number })[];
  capacity_changes: MasterData['capacity_changes'];
}

export interface MasterData {
  items: MasterItem[];
  work_centres: MasterWorkCentre[];
  routings: MasterOperation[];
  capacity_changes: { work_centre: string; from: string; to: string; hours_per_week: number; note: string }[];
}

export interface Peg {
  kind: 'order' | 'forecast' | 'parent';
  reference: string;
  date: string;
  quantity: number;
}

export interface PlannedOrder {
  key: string;
  item: string;
  name: string;
  uom: string;
  purchase: boolean;
  release_week: number;
  due_week: number;
  release_date: string;
  due_date: string;
  quantity: number;
  late_weeks: number;
  pegs: Peg[];
}

export type ExceptionKind = 'late' | 'expedite' | 'defer' | 'cancel' | 'below_safety_stock';

export interface PlanException {
  kind: ExceptionKind;
  item: string;
  name: string;
  week: number;
  date: string;
  quantity: number;
}

export interface CentreLoad {
  code: string;
  name: string;
  load: number[];
  capacity: number[];
  overloaded_weeks: number;
  peak_pct: number;
}

export interface Delivery {
  id: number;
  number: string;
  customer: string;
  item: string;
  quantity: number;
  due_date: string;
  expected_date: string;
  late_weeks: number;
}

export interface PlanRun {
  id: number;
  kind: 'regenerative' | 'net_change';
  as_of: string;
  created_at: number;
  by_user: string;
  items_replanned: number;
  elapsed_ms: number;
  report: {
    weeks: string[];
    summary: {
      items: number;
      customer_orders: number;
      beyond_horizon: number;
      production_orders: number;
      purchase_requisitions: number;
      exceptions: number;
      late_deliveries: number;
      on_time_pct: number | null;
      overloaded_centres: number;
    };
    exceptions: PlanException[];
    capacity: CentreLoad[];
    deliveries: Delivery[];
  };
}

export type WhatIfChange =
  | { kind: 'add_hours'; work_centre: string; from: string; to: string; hours_per_week: number }
  | { kind: 'move'; item: string; from_centre: string; to_centre: string };

export interface WhatIfResult {
  weeks: string[];
  overloaded_weeks: number;
  what_if_overloaded_weeks: number;
  centres: {
    code: string;
    load: number[];
    capacity: number[];
    what_if_load: number[];
    what_if_capacity: number[];
    overloaded_weeks: number;
    what_if_overloaded_weeks: number;
  }[];
}

export interface OrderPromise {
  requested_date: string;
  promised_date: string | null;
  on_time: boolean;
  reason: 'material' | 'capacity' | null;
  reason_ref: string | null;
  message: string;
}

export type WorkOrderStatus = 'released' | 'in_progress' | 'completed' | 'closed';
export const WORK_ORDER_STATUSES: WorkOrderStatus[] = ['released', 'in_progress', 'completed', 'closed'];

export interface WorkOrder {
  id: number;
  number: string;
  item: string;
  quantity: number;
  release_date: string;
  due_date: string;
  status: WorkOrderStatus;
  pegs: Peg[] | null;
  created_at: number;
  updated_at: number;
}

export interface WorkOrderDetail {
  order: WorkOrder;
  operations: { seq: number; work_centre: string; setup_hours: number; run_hours: number; qty_good: number; qty_scrap: number }[];
}

export interface PlanOverview {
  order_book: { month: string; orders: number; quantity: number; open: number; in_production: number }[];
  run_at: number | null;
  on_time_pct: number | null;
  late: { number: string; customer: string; item: string; due_date: string; expected_date: string; late_weeks: number }[];
  overloaded: { code: string; name: string; overloaded_weeks: number; peak_pct: number }[];
}

export const listOrders = (q: OrderQuery) => request<Page<CustomerOrder>>('GET', '/orders', undefined, { ...q });
export const createOrder = (o: OrderInput) => request<CustomerOrder>('POST', '/orders', o);
export const updateOrder = (id: number, o: OrderInput) => request<CustomerOrder>('PUT', `/orders/${id}`, o);
export const deleteOrder = (id: number) => request<void>('DELETE', `/orders/${id}`);
export const planMaster = () => request<{ master: MasterData }>('GET', '/plan/master');
export const putPlanMaster = (master: unknown) => request<{ master: MasterData }>('PUT', '/plan/master', master);
export const runMrp = (kind: 'regenerative' | 'net_change') => request<PlanRun>('POST', '/plan/runs', { kind });
export const promiseOrder = (item: string, quantity: number, due_date: string) =>
  request<OrderPromise>('POST', '/plan/promise', { item, quantity, due_date });
export const whatIf = (changes: WhatIfChange[]) => request<WhatIfResult>('POST', '/plan/what-if', { changes });
export const applyWhatIf = (changes: WhatIfChange[]) => request<PlanRun>('POST', '/plan/what-if/apply', { changes });
export const releaseOrders = (keys: string[]) =>
  request<{ work_orders: WorkOrder[]; purchase_orders: PurchaseOrder[]; run: PlanRun }>('POST', '/plan/release', { keys });

export type PurchaseStatus = 'open' | 'received' | 'cancelled';
export const PURCHASE_STATUSES: PurchaseStatus[] = ['open', 'received', 'cancelled'];

export interface PurchaseOrder {
  id: number;
  number: string;
  item: string;
  quantity: number;
  received: number;
  order_date: string;
  due_date: string;
  status: PurchaseStatus;
  pegs: Peg[] | null;
}

export const listPurchaseOrders = (q: { limit: number; offset: number; status?: string }) =>
  request<Page<PurchaseOrder>>('GET', '/purchase-orders', undefined, { ...q });
export const receivePurchaseOrder = (id: number, quantity: number) =>
  request<PurchaseOrder>('POST', `/purchase-orders/${id}/receive`, { quantity });
export const cancelPurchaseOrder = (id: number) => request<PurchaseOrder>('POST', `/purchase-orders/${id}/cancel`);
export const listWorkOrders = (q: { limit: number; offset: number; status?: string }) =>
  request<Page<WorkOrder>>('GET', '/work-orders', undefined, { ...q });
export const workOrder = (id: number) => request<WorkOrderDetail>('GET', `/work-orders/${id}`);
export const setWorkOrderStatus = (id: number, status: WorkOrderStatus) =>
  request<WorkOrderDetail>('POST', `/work-orders/${id}/status`, { status });
export const reportOperation = (id: number, seq: number, good: number, scrap: number) =>
  request<WorkOrderDetail>('POST', `/work-orders/${id}/operations/${seq}/report`, { good, scrap });
export interface PlannedOrderQuery {
  limit: number;
  offset: number;
  purchase?: 'true' | 'false';
  item?: string;
  late?: 'true';
}
export const listPlannedOrders = (q: PlannedOrderQuery) =>
  request<{ items: PlannedOrder[]; total: number; limit: number; offset: number; as_of: string }>('GET', '/plan/orders', undefined, { ...q });
export const planOverview = () => request<PlanOverview>('GET', '/plan/overview');

/** The newest MRP run; `null` before the first. */
export async function latestRun(): Promise<PlanRun | null> {
  try {
    return await request<PlanRun>('GET', '/plan/runs/latest');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** Uploads a CSV or XLSX file of orders. */
export async function importOrders(file: File, keepGood: boolean): Promise<ImportReport> {
  const xlsx = file.name.toLowerCase().endsWith('.xlsx');
  const res = await fetch(`/api/v1/orders/import?format=${xlsx ? 'xlsx' : 'csv'}&keep_good=${keepGood}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${getToken() ?? ''}`,
      'Content-Type': xlsx ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'text/csv',
    },
    body: file,
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = data?.error;
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, e?.field ?? null);
  }
  return data as ImportReport;
}

/** Downloads the order book as CSV or XLSX. */
export async function exportOrders(format: 'csv' | 'xlsx'): Promise<void> {
  const res = await fetch(`/api/v1/orders/export?format=${format}`, {
    headers: { Authorization: `Bearer ${getToken() ?? ''}` },
  });
  if (!res.ok) throw new ApiError(res.status, 'http_error', `HTTP ${res.status}`, null);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `orders.${format}`;
  a.click();
  URL.revokeObjectURL(url);
}

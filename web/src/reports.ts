import { request, type Kpis, type Reason } from './api';

/** Which part of the plant a report covers: `all`, `site:ID`, `area:ID`, `line:ID` or `equipment:ID`. */
export type ReportScope = string;

/** Stop time of one reason, or of one state where nobody gave a reason. */
export interface DowntimeItem {
  key: string;
  reason: Reason | null;
  state: string | null;
  seconds: number;
  stops: number;
  share: number;
  cumulative_share: number;
}

export interface DowntimePareto {
  scope: string;
  name: string;
  from: number;
  to: number;
  machines: number;
  total_seconds: number;
  stops: number;
  items: DowntimeItem[];
}

/** `from`/`to`: epoch ms, RFC 3339 or relative (`-8h`). */
export const downtimePareto = (query: { scope?: ReportScope; from?: string | number; to?: string | number }) =>
  request<DowntimePareto>('GET', '/kpi/downtime', undefined, query);

export interface PeriodKpi {
  date: string | null;
  shift: string | null;
  start: number;
  end: number;
  time: Record<string, number>;
  losses: Record<string, number>;
  quantities: { pq: number; gq: number; sq: number; rq: number };
  failures: number;
  kpis: Kpis;
}

export interface EquipmentKpi {
  equipment_id: number;
  code: string;
  ideal_cycle_s: number | null;
  timezone: string;
  shifts: PeriodKpi[];
  total: PeriodKpi | null;
}

export const equipmentKpi = (id: number, query: { from?: string | number; to?: string | number } = {}) =>
  request<EquipmentKpi>('GET', `/equipment/${id}/kpi`, undefined, query);

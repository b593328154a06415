/**
 * Typed client for quality (`/quality/characteristics…`): the inspection
 * plan, samples and live control charts. Also the pure helper that turns
 * a chart into ECharts series.
 */
import type { EChartsCoreOption } from 'echarts/core';
import { ApiError, getToken, request } from './api';

export type Stage = 'iqc' | 'ipqc' | 'oqc';
export type ChartKind = 'xbar_r' | 'xbar_s' | 'imr' | 'p' | 'np' | 'c' | 'u';

export interface Limits {
  center: number;
  ucl: number;
  lcl: number;
}

export interface Characteristic {
  id: number;
  code: string;
  name: string;
  item: string;
  operation_seq: number | null;
  stage: Stage;
  chart: ChartKind;
  subgroup_size: number;
  unit: string;
  lsl: number | null;
  usl: number | null;
  target: number | null;
  sampling: 'per_lot' | { every_minutes: number } | { every_units: number };
  gauge: string;
  equipment: string;
  rules: { set: 'nelson' | 'western_electric'; enabled: number[] };
  limits: { location: Limits; spread: Limits | null } | null;
  status: 'in_control' | 'out_of_control' | 'no_data';
  samples: number;
  next_due_at: number | null;
  overdue: boolean;
}

export interface ChartPoint {
  number: number;
  taken_at: number;
  value: number;
  spread: number | null;
  limits: Limits | null;
  beyond: boolean;
  rules: number[];
}

export interface Capability {
  cp: number | null;
  cpk: number;
  pp: number | null;
  ppk: number;
  normality?: { p_value: number };
}

export interface ChartView {
  chart: ChartKind;
  limits_kind: 'frozen' | 'trial' | 'none';
  points: ChartPoint[];
  spread_limits: Limits | null;
  rule_set: string;
  capability: Capability | null;
}

export interface Sample {
  id: number;
  number: number;
  values: number[];
  sample_size: number | null;
  taken_at: number;
  work_order: string;
  equipment: string;
  operator: string;
  lot: string;
  source: string;
}

export interface ChartData {
  characteristic: Characteristic;
  chart: ChartView;
  samples: Sample[];
}

export interface NewSample {
  values?: number[];
  count?: number;
  sample_size?: number;
  work_order?: string;
  lot?: string;
}

export interface SampleResult {
  sample: Sample;
  out_of_control: boolean;
  beyond_limits: boolean;
  rules: number[];
}

export function listCharacteristics(): Promise<Characteristic[]> {
  return request('GET', '/quality/characteristics');
}

export function characteristicChart(id: number, last = 50): Promise<ChartData> {
  return request('GET', `/quality/characteristics/${id}/chart`, undefined, { last });
}

export function recordSample(id: number, sample: NewSample): Promise<SampleResult> {
  return request('POST', `/quality/characteristics/${id}/samples`, sample);
}

export function freezeLimits(id: number, last: number): Promise<Characteristic> {
  return request('PUT', `/quality/characteristics/${id}/limits`, { last });
}

export function unfreezeLimits(id: number): Promise<Characteristic> {
  return request('DELETE', `/quality/characteristics/${id}/limits`);
}

/** Whether the chart plots measured values (else counts). */
export function isVariable(kind: ChartKind): boolean {
  return kind === 'xbar_r' || kind === 'xbar_s' || kind === 'imr';
}

/** The spread panel's name for a chart kind, if it has one. */
export function spreadName(kind: ChartKind): 'R' | 's' | 'MR' | null {
  return kind === 'xbar_r' ? 'R' : kind === 'xbar_s' ? 's' : kind === 'imr' ? 'MR' : null;
}

/** Decimal places that resolve a spread of `span` (a range of values) into about ten steps. */
export function digits(span: number): number {
  const size = Math.abs(span);
  if (size === 0 || !Number.isFinite(size)) return 3;
  return Math.min(6, Math.max(0, Math.ceil(-Math.log10(size)) + 1));
}

export type NcrStatus =
  | 'open'
  | 'contained'
  | 'disposition_proposed'
  | 'dispositioned'
  | 'actions_open'
  | 'verification'
  | 'closed'
  | 'cancelled';
export const NCR_STATUSES: NcrStatus[] = [
  'open',
  'contained',
  'disposition_proposed',
  'dispositioned',
  'actions_open',
  'verification',
  'closed',
  'cancelled',
];
export type Decision = 'use_as_is' | 'rework' | 'repair' | 'scrap' | 'return_to_supplier';
export const DECISIONS: Decision[] = ['rework', 'repair', 'scrap', 'return_to_supplier', 'use_as_is'];
export type CauseCategory = 'man' | 'machine' | 'material' | 'method' | 'environment' | 'measurement';
export const CAUSE_CATEGORIES: CauseCategory[] = ['man', 'machine', 'material', 'method', 'environment', 'measurement'];

export interface NewNcr {
  title: string;
  description?: string;
  item: string;
  quantity: number;
  work_order?: string;
  operation_seq?: number | null;
  equipment?: string;
  lot?: string;
  characteristic?: string | null;
  sample_number?: number | null;
}

export interface NcrEvent {
  at: number;
  by_user: string;
  action: string;
  detail: string;
  from_status: string;
  to_status: string;
}

export interface Ncr extends Required<Omit<NewNcr, 'operation_seq' | 'characteristic' | 'sample_number'>> {
  id: number;
  number: string;
  operation_seq: number | null;
  characteristic: string | null;
  sample_number: number | null;
  status: NcrStatus;
  created_by: string;
  created_at: number;
  containment: string | null;
  quantity_held: number | null;
  disposition: {
    lines: { decision: Decision; quantity: number }[];
    proposed_by: string;
    approved_by: string | null;
    comment: string;
  } | null;
  root_cause: { whys: string[]; category: CauseCategory; summary: string } | null;
  actions: {
    kind: 'corrective' | 'preventive';
    description: string;
    owner: string;
    due: string;
    done_at: number | null;
    note: string;
  }[];
  verification: string | null;
  closed_at: number | null;
  updated_at: number;
  events?: NcrEvent[];
  photos?: NcrPhoto[];
}

export function listNcrs(status?: NcrStatus): Promise<{ items: Ncr[]; total: number }> {
  return request('GET', '/quality/ncrs', undefined, { status, limit: 100 });
}

export function getNcr(id: number): Promise<Ncr> {
  return request('GET', `/quality/ncrs/${id}`);
}

export function createNcr(body: NewNcr): Promise<Ncr> {
  return request('POST', '/quality/ncrs', body);
}

export function ncrAction(id: number, action: Record<string, unknown>): Promise<Ncr> {
  return request('POST', `/quality/ncrs/${id}/actions`, action);
}

export interface TracedUnit {
  code: string;
  kind: 'lot' | 'serial';
  item: string;
  quantity: number | null;
  work_order: string;
  depth: number;
}

export interface Genealogy {
  direction: 'backward' | 'forward';
  units: TracedUnit[];
  links: { input: string; output: string; quantity: number | null; operation_seq: number | null; at: number }[];
  truncated: boolean;
}

export function genealogy(code: string, direction: 'backward' | 'forward'): Promise<Genealogy> {
  return request('GET', `/quality/trace/${encodeURIComponent(code)}`, undefined, { direction });
}

export interface ParetoBar {
  key: string;
  quantity: number;
  reports: number;
  cumulative: number;
}

export interface QualityKpis {
  by_item: {
    item: string;
    rty: number | null;
    steps: { seq: number; work_centre: string; good: number; scrap: number; fpy: number | null }[];
  }[];
  by_centre: { work_centre: string; good: number; scrap: number; fpy: number | null }[];
  pareto_by_item: ParetoBar[];
  pareto_by_cause: ParetoBar[];
  cost: { scrap: number; rework: number; total: number; items_without_cost: string[] };
  open_reports: number;
  out_of_control: string[];
  characteristics: number;
}

/** Colours and layout of a Pareto chart; the defaults suit the pages. */
export interface ParetoLook {
  label?: (key: string) => string;
  bar?: string;
  line?: string;
  axis?: string;
  /** Rotation of the category labels, degrees. */
  rotate?: number;
  top?: number;
  tooltip?: boolean;
}

/** ECharts option of a Pareto chart: quantities as bars, the cumulative share as a line. */
export function paretoOption(bars: ParetoBar[], look: ParetoLook = {}): EChartsCoreOption {
  const label = look.label ?? ((k: string) => k);
  const line = look.line ?? '#f0b429';
  return {
    animation: false,
    grid: { left: 50, right: 40, top: look.top ?? 20, bottom: 40 },
    ...(look.tooltip === false ? {} : { tooltip: { trigger: 'axis' } }),
    xAxis: {
      type: 'category',
      data: bars.map((b) => label(b.key)),
      axisLabel: { color: look.axis ?? '#9fb3c8', interval: 0, rotate: look.rotate ?? 0 },
    },
    yAxis: [
      { type: 'value', axisLabel: { color: '#9fb3c8' }, splitLine: { lineStyle: { color: 'rgba(255,255,255,0.06)' } } },
      { type: 'value', max: 100, axisLabel: { color: '#9fb3c8', formatter: '{value}%' }, splitLine: { show: false } },
    ],
    series: [
      { type: 'bar', data: bars.map((b) => b.quantity), itemStyle: { color: look.bar ?? '#5ab0ff' } },
      {
        type: 'line',
        yAxisIndex: 1,
        data: bars.map((b) => +(b.cumulative * 100).toFixed(1)),
        lineStyle: { color: line },
        itemStyle: { color: line },
      },
    ],
  };
}

export function qualityKpis(): Promise<QualityKpis> {
  return request('GET', '/quality/kpis');
}

export interface NcrPhoto {
  id: number;
  name: string;
  content_type: string;
  size: number;
  by_user: string;
  at: number;
}

/** Uploads a photo (the file's bytes as they are) to a report. */
export async function uploadNcrPhoto(id: number, file: File): Promise<NcrPhoto> {
  const token = getToken();
  const res = await fetch(`/api/v1/quality/ncrs/${id}/photos?name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': file.type || 'application/octet-stream' },
    body: file,
  });
  const data = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; field?: string | null } } | null;
  if (!res.ok) {
    throw new ApiError(res.status, data?.error?.code ?? 'http_error', data?.error?.message ?? `HTTP ${res.status}`, data?.error?.field ?? null);
  }
  return data as unknown as NcrPhoto;
}

/** A photo as an object URL for an <img> (photos need the bearer token). */
export async function ncrPhotoUrl(id: number, photo: number): Promise<string> {
  const token = getToken();
  const res = await fetch(`/api/v1/quality/ncrs/${id}/photos/${photo}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok) throw new ApiError(res.status, 'http_error', `HTTP ${res.status}`, null);
  return URL.createObjectURL(await res.blob());
}

/**
 * Typed client for quality (`/quality/characteristics…`): the inspection
 * plan, samples and live control charts. Also the pure helper that turns
 * a chart into ECharts series.
 */
import { request } from './api';

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

import type { EquipmentState } from './api';

/** Display order of machine states. */
export const EQUIPMENT_STATES: readonly EquipmentState[] = [
  'running',
  'idle',
  'setup',
  'planned_stop',
  'blocked',
  'starved',
  'down',
  'offline',
];

export const STATE_COLORS: Record<EquipmentState, string> = {
  running: '#22c55e',
  idle: '#f5a524',
  setup: '#3b82f6',
  planned_stop: '#a78bfa',
  blocked: '#f97316',
  starved: '#e879f9',
  down: '#ef4444',
  offline: '#64748b',
};

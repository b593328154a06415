import type { MessageKey } from '../../i18n/zh-CN';
import { t } from '../../i18n';

/** A machine state's label; the state's own name while its label is not in the tables. */
export function stateLabel(state: string): string {
  return t(`state.${state}` as MessageKey) || state;
}

/** `{field}: {message}`, as the server words a refused field. */
export function problemAt(field: string, message: string) {
  return { field, message: `${field}: ${message}` };
}

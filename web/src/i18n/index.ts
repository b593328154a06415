import { ref, watchEffect } from 'vue';
import { zhCN, type MessageKey, type Messages } from './zh-CN';
import { en } from './en';

export type Locale = 'zh-CN' | 'en';

const STORAGE_KEY = 'zhizao.locale';
const tables: Record<Locale, Messages> = { 'zh-CN': zhCN, en };

function initialLocale(): Locale {
  return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh-CN';
}

/** The current UI language; reactive, so templates using `t` re-render on change. */
export const locale = ref<Locale>(initialLocale());

watchEffect(() => {
  localStorage.setItem(STORAGE_KEY, locale.value);
  document.documentElement.lang = locale.value;
});

export function toggleLocale(): void {
  locale.value = locale.value === 'zh-CN' ? 'en' : 'zh-CN';
}

/** Translate `key`, replacing `{name}` placeholders with `params`. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = tables[locale.value][key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The name of something named in both languages (a downtime reason), in the current one. */
export function localName(named: { zh: string; en: string }): string {
  return locale.value === 'zh-CN' ? named.zh : named.en;
}

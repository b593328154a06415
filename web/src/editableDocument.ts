import { computed, ref, watch, type Ref } from 'vue';
import { ApiError } from './api';

/** A problem with the document: `field` is a path such as `types[0].rules[1].when`. */
export interface DocProblem {
  field: string | null;
  message: string;
}

export interface EditableDocument<T> {
  /** The user's working copy; null until loaded. */
  draft: Ref<T | null>;
  loading: Ref<boolean>;
  loadError: Ref<string | null>;
  saving: Ref<boolean>;
  /** Why the last save was refused (by the client check or the server). */
  problem: Ref<DocProblem | null>;
  /** When the last save succeeded, until the next edit. */
  savedAt: Ref<number | null>;
  dirty: Ref<boolean>;
  reload: () => Promise<void>;
  save: () => Promise<void>;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * A JSON document the server replaces as a whole: loaded into a draft the
 * user edits, saved with one PUT. A refused save keeps the draft.
 */
export function useEditableDocument<T>(options: {
  load: () => Promise<T>;
  save: (doc: T) => Promise<T>;
  /** Cheap client-side checks; the server remains the authority. */
  check?: (doc: T) => DocProblem | null;
}): EditableDocument<T> {
  const draft = ref<T | null>(null) as Ref<T | null>;
  const saved = ref<string | null>(null);
  const loading = ref(false);
  const loadError = ref<string | null>(null);
  const saving = ref(false);
  const problem = ref<DocProblem | null>(null);
  const savedAt = ref<number | null>(null);

  const dirty = computed(() => draft.value !== null && JSON.stringify(draft.value) !== saved.value);
  watch(dirty, (d) => {
    if (d) savedAt.value = null;
  });

  function adopt(doc: T) {
    saved.value = JSON.stringify(doc);
    draft.value = clone(doc);
  }

  async function reload() {
    loading.value = true;
    loadError.value = null;
    try {
      adopt(await options.load());
      problem.value = null;
      savedAt.value = null;
    } catch (err) {
      loadError.value = err instanceof Error ? err.message : String(err);
    } finally {
      loading.value = false;
    }
  }

  async function save() {
    if (draft.value === null || saving.value) return;
    const doc = clone(draft.value);
    const local = options.check?.(doc) ?? null;
    if (local) {
      problem.value = local;
      return;
    }
    saving.value = true;
    problem.value = null;
    try {
      adopt(await options.save(doc));
      savedAt.value = Date.now();
    } catch (err) {
      problem.value =
        err instanceof ApiError
          ? { field: err.field, message: err.message }
          : { field: null, message: err instanceof Error ? err.message : String(err) };
    } finally {
      saving.value = false;
    }
  }

  return { draft, loading, loadError, saving, problem, savedAt, dirty, reload, save };
}

/** The indexes in a path like `types[0].rules[1].when` → `[0, 1]`, and its last name → `when`. */
export function parseField(field: string | null | undefined): { indexes: number[]; leaf: string } | null {
  if (!field) return null;
  const indexes = [...field.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  const leaf = field.replace(/\[\d+\]/g, '').split('.').pop() ?? '';
  return { indexes, leaf };
}

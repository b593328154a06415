import { computed, onBeforeUnmount, ref } from 'vue';

/**
 * Shows one item after another, advancing every `intervalMs`, for screens
 * nobody clicks. `toggle(id)` pins an item (the rotation pauses on it); a
 * second toggle of the pinned item resumes the rotation from there.
 */
export function useRotation<T extends { id: number }>(items: () => readonly T[], intervalMs: number) {
  const rotatingId = ref<number | null>(null);
  const pinnedId = ref<number | null>(null);

  const current = computed<T | undefined>(() => {
    const list = items();
    return list.find((i) => i.id === pinnedId.value) ?? list.find((i) => i.id === rotatingId.value) ?? list[0];
  });
  const pinned = computed(() => current.value !== undefined && current.value.id === pinnedId.value);
  /** 1-based position of the current item. */
  const position = computed(() => items().findIndex((i) => i.id === current.value?.id) + 1);

  function advance() {
    if (pinned.value) return;
    const list = items();
    if (list.length === 0) return;
    rotatingId.value = list[position.value % list.length]?.id ?? null;
  }

  let timer = setInterval(advance, intervalMs);

  function toggle(id: number) {
    if (pinnedId.value === id) {
      pinnedId.value = null;
      rotatingId.value = id;
    } else {
      pinnedId.value = id;
    }
    // The newly shown item gets a full interval.
    clearInterval(timer);
    timer = setInterval(advance, intervalMs);
  }

  onBeforeUnmount(() => clearInterval(timer));

  return { current, pinned, position, toggle };
}

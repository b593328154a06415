import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue';

/** The current time in epoch ms, refreshed every `intervalMs` while the component lives. */
export function useNow(intervalMs = 1000): Ref<number> {
  const now = ref(Date.now());
  const timer = setInterval(() => (now.value = Date.now()), intervalMs);
  onBeforeUnmount(() => clearInterval(timer));
  return now;
}

/** Runs `tick` when the component mounts and every `intervalMs` after, until it unmounts. */
export function useEvery(intervalMs: number, tick: () => unknown): void {
  let timer: ReturnType<typeof setInterval> | undefined;
  onMounted(() => {
    void tick();
    timer = setInterval(() => void tick(), intervalMs);
  });
  onBeforeUnmount(() => clearInterval(timer));
}

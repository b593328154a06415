/**
 * Live plant state: a snapshot from `GET /api/v1/live/snapshot`, kept current
 * by the `/api/v1/live` WebSocket. Reconnects with exponential backoff and
 * re-fetches the snapshot after every reconnect.
 */
import { computed, reactive } from 'vue';
import {
  listAlarms,
  liveSnapshot,
  liveSocketUrl,
  me,
  type Alarm,
  type AlarmMessage,
  type LineKpiMessage,
  type QualitySampleMessage,
  type ScheduleMessage,
  type LiveEquipment,
  type LiveLine,
  type LiveMessage,
  type Snapshot,
  type StateCounts,
  type StateEvent,
} from './api';
import { EQUIPMENT_STATES } from './states';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting';

const MAX_EVENTS = 20;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 15000;
/**
 * Messages are applied in batches at this interval: a busy plant sends dozens of
 * counter updates per second, and one re-render per batch keeps the page fluid.
 */
const FLUSH_MS = 250;
/** At most one snapshot re-fetch per this interval because of unknown machines. */
const UNKNOWN_RESYNC_MS = 10000;

interface Located {
  line: LiveLine;
  equipment: LiveEquipment;
}

export function useLiveFeed(scope = 'all') {
  const state = reactive({
    lines: [] as LiveLine[],
    events: [] as StateEvent[],
    /** Alarms that are not over, newest first. */
    alarms: [] as Alarm[],
    /** The latest pushed running-shift KPIs, by line id. */
    lineKpis: {} as Record<number, LineKpiMessage>,
    /** The newest recorded quality sample, for charts that redraw on it. */
    lastQualitySample: null as QualitySampleMessage | null,
    lastSchedule: null as ScheduleMessage | null,
    status: 'connecting' as ConnectionStatus,
    loaded: false,
    error: null as string | null,
  });

  const counts = computed<StateCounts>(() => {
    const result = Object.fromEntries(EQUIPMENT_STATES.map((s) => [s, 0])) as StateCounts;
    for (const line of state.lines) for (const eq of line.equipment) result[eq.state] += 1;
    return result;
  });

  let index = new Map<number, Located>();
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Messages received since the last flush. */
  let incoming: LiveMessage[] = [];
  let attempt = 0;
  let stopped = false;
  let everLive = false;
  let lastUnknownResync = 0;
  /** The newest message applied, to ask for what was missed on reconnect. */
  let lastSeq = 0;
  /** Messages received while a snapshot request is in flight; null when none is. */
  let buffered: LiveMessage[] | null = null;

  function applySnapshot(snap: Snapshot) {
    state.lines = snap.lines;
    state.events = snap.events.slice(0, MAX_EVENTS);
    state.loaded = true;
    state.error = null;
    index = new Map();
    // Index the reactive proxies so that later mutations re-render.
    for (const line of state.lines) {
      for (const equipment of line.equipment) index.set(equipment.id, { line, equipment });
    }
  }

  async function loadSnapshot() {
    if (buffered) return;
    buffered = [];
    try {
      const [snap, alarms] = await Promise.all([liveSnapshot(), listAlarms().catch(() => null)]);
      if (stopped) return;
      applySnapshot(snap);
      lastSeq = Math.max(lastSeq, snap.seq);
      if (alarms) state.alarms = alarms.active.slice().reverse();
      for (const msg of buffered) if (msg.type !== 'hello' && msg.seq > snap.seq) apply(msg);
    } catch (err) {
      state.error = err instanceof Error ? err.message : String(err);
    } finally {
      buffered = null;
    }
  }

  function applyAlarm(msg: AlarmMessage) {
    const alarm = msg.event.alarm;
    if (!alarm) return;
    const at = state.alarms.findIndex((a) => a.id === alarm.id);
    if (msg.event.kind === 'closed') {
      if (at >= 0) state.alarms.splice(at, 1);
    } else if (at >= 0) {
      state.alarms[at] = alarm;
    } else {
      state.alarms.unshift(alarm);
    }
  }

  function apply(msg: LiveMessage) {
    if (msg.type === 'hello') return;
    lastSeq = Math.max(lastSeq, msg.seq);
    if (msg.type === 'alarm') {
      applyAlarm(msg);
      return;
    }
    if (msg.type === 'line_kpi') {
      state.lineKpis[msg.line_id] = msg;
      return;
    }
    if (msg.type === 'quality_sample') {
      state.lastQualitySample = msg;
      return;
    }
    if (msg.type === 'schedule') {
      state.lastSchedule = msg;
      return;
    }
    const found = index.get(msg.equipment_id);
    if (!found) {
      // A machine the snapshot does not know yet (e.g. just created).
      if (Date.now() - lastUnknownResync > UNKNOWN_RESYNC_MS) {
        lastUnknownResync = Date.now();
        void loadSnapshot();
      }
      return;
    }
    const { line, equipment } = found;
    if (msg.type === 'state') {
      equipment.state = msg.state;
      equipment.since = msg.ts;
      if (!state.events.some((e) => e.seq === msg.seq)) {
        state.events.unshift(msg);
        if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
      }
    } else if (msg.type === 'counters') {
      line.good_today += msg.good_today - equipment.good_today;
      line.scrap_today += msg.scrap_today - equipment.scrap_today;
      equipment.good_today = msg.good_today;
      equipment.scrap_today = msg.scrap_today;
      equipment.temperature = msg.temperature;
    }
  }

  function flush() {
    flushTimer = undefined;
    const batch = incoming;
    incoming = [];
    for (const msg of batch) {
      if (buffered) buffered.push(msg);
      else apply(msg);
    }
  }

  function onMessage(event: MessageEvent) {
    let msg: LiveMessage;
    try {
      msg = JSON.parse(String(event.data)) as LiveMessage;
    } catch {
      return;
    }
    if (msg.type === 'hello') {
      state.status = 'live';
      attempt = 0;
      // Back after a break: the server replays what was missed, unless it
      // no longer has it.
      const replayed = everLive && msg.replayed !== undefined && !msg.resync;
      if (!state.loaded || (everLive && !replayed)) void loadSnapshot();
      everLive = true;
      return;
    }
    incoming.push(msg);
    flushTimer ??= setTimeout(flush, FLUSH_MS);
  }

  function connect() {
    let greeted = false;
    const ws = new WebSocket(liveSocketUrl(scope, everLive ? lastSeq : undefined));
    socket = ws;
    ws.onmessage = (event) => {
      greeted = true;
      onMessage(event);
    };
    ws.onclose = () => {
      if (socket === ws) socket = null;
      if (stopped) return;
      // Rejected before any message: check whether the session is still valid;
      // a 401 there sends the user back to the login page.
      if (!greeted) me().catch(() => {});
      state.status = 'reconnecting';
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      retryTimer = setTimeout(connect, delay);
    };
  }

  function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    clearTimeout(flushTimer);
    socket?.close();
    socket = null;
  }

  void loadSnapshot();
  connect();

  return { state, counts, stop };
}

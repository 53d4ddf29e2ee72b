/**
 * The live picture of the hub: the socket.io `snapshot` on connect, then each coalesced `frame`
 * applied on top. Screens subscribe and redraw at most once per animation frame. The socket also
 * carries commands (`command` with an ack), with the session's token in its handshake.
 *
 * It is the one source of truth for what screens show about safety: interlocks, stations (with
 * whether they may start), holds, actuators and the visit all arrive here and nowhere else.
 */
import { io, type Socket } from "socket.io-client";
import type { ActuatorView, Alarm, HeldActuator, InterlockView, LiveChannel, LiveDevice, LiveFrame, LiveSnapshot, SimClockView, StationView, Visit } from "../../../hub/src/api/live-protocol.ts";
import { frameThrottle } from "./dom.ts";

export type { ActuatorView, Alarm, HeldActuator, InterlockView, LiveChannel, LiveDevice, LiveSnapshot, SimClockView, StationView, Visit };
export type ConnState = "connecting" | "up" | "down";

/** A hub from before stations (printers, robots) or actuator views sends neither: both are handled. */
type SnapshotWithStations = Omit<LiveSnapshot, "stations" | "actuators" | "simClock"> & { stations?: StationView[]; actuators?: ActuatorView[]; simClock?: SimClockView | null };
type FrameWithStations = Omit<LiveFrame, "stations"> & { stations?: StationView[] };

export class LiveStore {
  snapshot: SnapshotWithStations | null = null;
  conn: ConnState = "connecting";
  /** Hub time minus local time: ages and countdowns stay right on a screen whose clock is off. */
  skewMs = 0;
  /** Frames the hub skipped for us (a gap in `n`): we were slow, a fresh snapshot follows. */
  skippedFrames = 0;
  /** Every alarm seen since connecting, in its latest version (the snapshot keeps only open ones). */
  readonly alarmsSeen = new Map<string, Alarm>();
  private lastFrameNo = 0;
  private socket: Socket | null = null;
  private socketToken: string | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly notify = frameThrottle(() => {
    for (const fn of this.listeners) fn();
  });

  /** (Re)connects, with a session token or as a kiosk. */
  connect(token: string | null): void {
    if (this.socket !== null && this.socketToken === token) return;
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socketToken = token;
    this.conn = "connecting";
    const socket = io({ transports: ["websocket"], forceNew: true, auth: token === null ? {} : { token } });
    this.socket = socket;
    socket.on("connect", () => {
      this.conn = "up";
      this.notify();
    });
    socket.on("disconnect", () => {
      this.conn = "down";
      this.notify();
    });
    socket.on("connect_error", () => {
      this.conn = "down";
      this.notify();
    });
    socket.on("snapshot", (snap: SnapshotWithStations) => this.applySnapshot(snap));
    socket.on("frame", (frame: FrameWithStations) => this.applyFrame(frame));
    this.notify();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Hub time now. */
  now(): number {
    return Date.now() + this.skewMs;
  }

  device(id: string): LiveDevice | undefined {
    return this.snapshot?.devices.find((d) => d.id === id);
  }

  channel(device: string, channel: string): LiveChannel | undefined {
    return this.device(device)?.channels[channel];
  }

  /** The value if it is there (stale values included: the badge says so). */
  value(device: string, channel: string): number | null {
    return this.channel(device, channel)?.value ?? null;
  }

  stations(): StationView[] {
    return this.snapshot?.stations ?? [];
  }

  interlocks(): InterlockView[] {
    return this.snapshot?.interlocks ?? [];
  }

  alarms(): Alarm[] {
    return this.snapshot?.alarms ?? [];
  }

  /** What the hub holds on. */
  holds(): HeldActuator[] {
    return this.snapshot?.holds ?? [];
  }

  /** Every actuator a device has declared, with what the hub does with it. */
  actuators(): ActuatorView[] {
    return this.snapshot?.actuators ?? [];
  }

  actuator(ref: string): ActuatorView | undefined {
    return this.actuators().find((a) => a.ref === ref);
  }

  /** The simulated installation's clock, or null when nothing is simulated (or the hub does not say). */
  simClock(): SimClockView | null {
    return this.snapshot?.simClock ?? null;
  }

  /** The class visit that runs, or null (also while no snapshot has arrived). */
  visit(): Visit | null {
    return this.snapshot?.visit ?? null;
  }

  /**
   * Interlock views from REST (resetBlocked changes with time). One older than what the stream
   * already said (a reply that was under way while a reset went out) is ignored: it would bring
   * back a state the hub has left.
   */
  mergeInterlocks(list: readonly InterlockView[]): void {
    const snap = this.snapshot;
    if (snap === null) return;
    for (const il of list) {
      const i = snap.interlocks.findIndex((x) => x.id === il.id);
      const known = snap.interlocks[i];
      if (known !== undefined && il.since < known.since) continue;
      if (i >= 0) snap.interlocks[i] = il;
      else snap.interlocks.push(il);
    }
    this.notify();
  }

  /** Sends a command over the socket if it is up and carries `token`; null if it cannot. */
  emitCommand(token: string | null, name: string, params: unknown, timeoutMs: number): Promise<unknown> | null {
    const socket = this.socket;
    if (socket === null || !socket.connected || this.socketToken !== token) return null;
    return new Promise((resolve, reject) => {
      socket.timeout(timeoutMs).emit("command", { name, params }, (err: Error | null, reply: unknown) => {
        if (err) reject(err);
        else resolve(reply);
      });
    });
  }

  private applySnapshot(snap: SnapshotWithStations): void {
    this.snapshot = snap;
    this.skewMs = snap.t - Date.now();
    for (const a of snap.alarms) this.alarmsSeen.set(a.key, a);
    this.lastFrameNo = 0;
    this.notify();
  }

  private applyFrame(frame: FrameWithStations): void {
    const snap = this.snapshot;
    if (snap === null) return;
    this.skewMs = frame.t - Date.now();
    if (this.lastFrameNo !== 0 && frame.n > this.lastFrameNo + 1) this.skippedFrames += frame.n - this.lastFrameNo - 1;
    this.lastFrameNo = frame.n;
    const byId = new Map(snap.devices.map((d) => [d.id, d]));
    for (const v of frame.values) {
      const ch = byId.get(v.d)?.channels[v.c];
      if (ch === undefined) continue;
      ch.value = v.v;
      ch.at = v.at;
      ch.ageMs = v.ageMs;
      ch.quality = v.quality;
      ch.prov = v.prov;
    }
    for (const d of frame.devices) {
      const dev = byId.get(d.id);
      if (dev === undefined) continue;
      dev.state = d.state;
      dev.stateReason = d.stateReason;
      dev.stateText = d.stateText;
      dev.lastSeen = d.lastSeen;
    }
    for (const il of frame.interlocks) {
      const i = snap.interlocks.findIndex((x) => x.id === il.id);
      if (i >= 0) snap.interlocks[i] = il;
      else snap.interlocks.push(il);
    }
    if (frame.holds !== undefined) snap.holds = frame.holds;
    if (frame.visit !== undefined) snap.visit = frame.visit;
    if (frame.simClock !== undefined) snap.simClock = frame.simClock;
    if (frame.actuators !== undefined || frame.actuatorsGone !== undefined) {
      const actuators = (snap.actuators ??= []);
      for (const a of frame.actuators ?? []) {
        const i = actuators.findIndex((x) => x.ref === a.ref);
        if (i >= 0) actuators[i] = a;
        else actuators.push(a);
      }
      const gone = new Set(frame.actuatorsGone ?? []);
      if (gone.size > 0) snap.actuators = actuators.filter((a) => !gone.has(a.ref));
    }
    if (frame.stations !== undefined && frame.stations.length > 0) {
      const stations = (snap.stations ??= []);
      for (const st of frame.stations) {
        const i = stations.findIndex((x) => x.id === st.id);
        if (i >= 0) stations[i] = st;
        else stations.push(st);
      }
    }
    for (const a of frame.alarms) {
      this.alarmsSeen.set(a.key, a);
      const i = snap.alarms.findIndex((x) => x.key === a.key);
      // The snapshot holds the alarms that need attention: active or not yet acknowledged.
      const open = a.active || !a.acknowledged;
      if (i >= 0 && open) snap.alarms[i] = a;
      else if (i >= 0) snap.alarms.splice(i, 1);
      else if (open) snap.alarms.push(a);
    }
    this.notify();
  }
}

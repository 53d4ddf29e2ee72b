/**
 * What the robot demo state machine needs from a robot, whatever it is: an industrial cell on OPC UA
 * or a servo arm on Firmata. Adapters implement it; the core decides.
 */

/** OPC 40010 OperationalModeEnumeration. */
export const OPERATIONAL_MODE = { OTHER: 0, MANUAL_REDUCED_SPEED: 1, MANUAL_HIGH_SPEED: 2, AUTOMATIC: 3, AUTOMATIC_EXTERNAL: 4 } as const;

/** What the robot itself reports its program doing. */
export type RobotProgramState = "idle" | "loaded" | "running" | "stopped" | "done" | "error";

export interface RobotStatus {
  connected: boolean;
  /** OPC 40010 operational mode; a robot without modes reports AUTOMATIC. */
  mode: number;
  emergencyStop: boolean;
  protectiveStop: boolean;
  /** The cell's door or light curtain; a robot without one reports true. */
  doorClosed: boolean;
  program: string | null;
  programState: RobotProgramState;
  /** The robot's own error text, if any. */
  error: string | null;
  axesDeg: number[];
  /** When the status last came from the robot (hub time). */
  at: number;
}

export interface RobotDriver {
  readonly status: RobotStatus;
  /** Called whenever the status changes (and on every connection change). */
  onStatus(fn: (status: RobotStatus) => void): void;
  connect(): void;
  close(): Promise<void>;
  /** Each resolves when the robot accepted it; rejects with HubError and the robot's reason. */
  run(program: string): Promise<void>;
  stop(): Promise<void>;
  /** Stop at once (e-stop from the hub: a control stop, not a safety function). */
  halt(): Promise<void>;
  resetFault(): Promise<void>;
  /** Programs the robot itself offers (the hub's approved catalogue is a subset). */
  programs(): string[];
  /** The robot's firmware or controller as it names itself ("StandardFirmata.ino 2.5"), once known. */
  firmware?(): string | null;
  /** Why the last attempt to connect failed, in words a technician can act on; null once connected. */
  connectError?(): string | null;
}

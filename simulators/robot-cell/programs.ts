/**
 * Robot programs of the simulated cell: joint-space waypoints for a six-axis arm, and the default
 * program library. A program is data, so a lesson can add its own without code (see
 * `startRobotCell({ programs })`); `validatePrograms` rejects anything the arm could not do.
 */

export const AXIS_COUNT = 6;

/** Joint limits in degrees, A1..A6: roughly those of a small six-axis industrial arm. */
export const AXIS_LIMITS_DEG: readonly (readonly [number, number])[] = [
  [-170, 170],
  [-120, 90],
  [-80, 160],
  [-190, 190],
  [-120, 120],
  [-350, 350],
];

/** Where the arm stands at power-up, and where every default program returns to. */
export const HOME_DEG: readonly number[] = [0, -30, 60, 0, 60, 0];

export interface Waypoint {
  /** Target joint positions A1..A6, degrees. */
  axesDeg: readonly number[];
  /** Time to wait after arriving (a gripper closing, say), ms. */
  dwellMs?: number;
}

export interface RobotProgram {
  name: string;
  description: string;
  /** Speed of the leading axis at 100 % override; the other axes are scaled to arrive together. */
  speedDegS: number;
  /** Only approved programs may start; others can be loaded (and shown) but are refused at start. */
  approved: boolean;
  waypoints: readonly Waypoint[];
}

function wp(axesDeg: readonly number[], dwellMs?: number): Waypoint {
  return dwellMs === undefined ? { axesDeg } : { axesDeg, dwellMs };
}

const ABOVE_PICK = [-60, -20, 70, 0, 40, 0];
const AT_PICK = [-60, 0, 80, 0, 10, 0];
const ABOVE_PLACE = [60, -20, 70, 0, 40, 90];
const AT_PLACE = [60, 0, 80, 0, 10, 90];
const WAVE_UP = [0, -60, 30, 0, -30, 0];
const waveTo = (a4: number): readonly number[] => [0, -60, 30, a4, -30, 0];

/** The default library: three approved programs of about 10-30 s each, and one that is not approved. */
export const DEFAULT_PROGRAMS: readonly RobotProgram[] = [
  {
    name: "pick-and-place",
    description: "Picks a block on the left and puts it down on the right.",
    speedDegS: 30,
    approved: true,
    waypoints: [
      wp(ABOVE_PICK),
      wp(AT_PICK, 800),
      wp(ABOVE_PICK),
      wp(ABOVE_PLACE),
      wp(AT_PLACE, 800),
      wp(ABOVE_PLACE),
      wp(HOME_DEG),
    ],
  },
  {
    name: "wave",
    description: "Raises the arm and waves with the wrist.",
    speedDegS: 60,
    approved: true,
    waypoints: [
      wp(WAVE_UP),
      ...[40, -40, 40, -40, 40, -40, 40, -40, 40, -40].map((a4) => wp(waveTo(a4))),
      wp(WAVE_UP),
      wp(HOME_DEG),
    ],
  },
  {
    name: "draw-square",
    description: "Traces a square with the tool in front of the robot.",
    speedDegS: 15,
    approved: true,
    waypoints: [
      wp([-30, -10, 80, 0, 20, 0], 500),
      wp([30, -10, 80, 0, 20, 0]),
      wp([30, 10, 60, 0, 20, 0]),
      wp([-30, 10, 60, 0, 20, 0]),
      wp([-30, -10, 80, 0, 20, 0], 500),
      wp(HOME_DEG),
    ],
  },
  {
    name: "fast-sweep",
    description: "Full-speed sweep of the base axis. Not approved for lessons.",
    speedDegS: 180,
    approved: false,
    waypoints: [wp([-150, -30, 60, 0, 60, 0]), wp([150, -30, 60, 0, 60, 0]), wp(HOME_DEG)],
  },
];

/** Throws with every problem listed if a program is malformed or leaves the joint limits. */
export function validatePrograms(programs: readonly RobotProgram[]): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const p of programs) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(p.name)) problems.push(`program name "${p.name}" is not kebab-case`);
    if (seen.has(p.name)) problems.push(`program "${p.name}" is defined twice`);
    seen.add(p.name);
    if (!(p.speedDegS > 0 && Number.isFinite(p.speedDegS))) problems.push(`${p.name}: speedDegS must be > 0`);
    if (p.waypoints.length === 0) problems.push(`${p.name}: no waypoints`);
    p.waypoints.forEach((w, i) => {
      if (w.axesDeg.length !== AXIS_COUNT) problems.push(`${p.name}: waypoint ${i} has ${w.axesDeg.length} axes, not ${AXIS_COUNT}`);
      w.axesDeg.forEach((deg, a) => {
        const [min, max] = AXIS_LIMITS_DEG[a] ?? [0, 0];
        if (!Number.isFinite(deg) || deg < min || deg > max) problems.push(`${p.name}: waypoint ${i} axis ${a + 1} = ${deg} outside [${min}, ${max}]`);
      });
      if (w.dwellMs !== undefined && !(w.dwellMs >= 0)) problems.push(`${p.name}: waypoint ${i} dwellMs must be >= 0`);
    });
  }
  if (problems.length > 0) throw new Error(`invalid robot programs: ${problems.join("; ")}`);
}

/** Largest joint distance between two poses: the leading axis sets the time of a synchronous move. */
export function leadingDistanceDeg(from: readonly number[], to: readonly number[]): number {
  let max = 0;
  for (let a = 0; a < AXIS_COUNT; a++) max = Math.max(max, Math.abs((to[a] ?? 0) - (from[a] ?? 0)));
  return max;
}

/** How long a program takes from `fromDeg` at the given speed override, ms. */
export function programDurationMs(program: RobotProgram, fromDeg: readonly number[] = HOME_DEG, overridePct = 100): number {
  const speed = (program.speedDegS * overridePct) / 100;
  let pose = fromDeg;
  let ms = 0;
  for (const w of program.waypoints) {
    ms += (leadingDistanceDeg(pose, w.axesDeg) / speed) * 1000 + (w.dwellMs ?? 0);
    pose = w.axesDeg;
  }
  return ms;
}

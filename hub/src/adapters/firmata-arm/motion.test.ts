import { describe, expect, it } from "vitest";
import { type JointLimits, MotionPlan, type Waypoint, clampPose, segmentSteps } from "./motion.ts";

const limits: JointLimits[] = [
  { minDeg: 20, maxDeg: 160 },
  { minDeg: 0, maxDeg: 180 },
];

function run(plan: MotionPlan): number[][] {
  const poses: number[][] = [];
  for (let step = plan.next(); step !== null; step = plan.next()) poses.push(step.poseDeg);
  return poses;
}

describe("segmentSteps", () => {
  const cases: Array<[string, number[], number[], number, number, number, number]> = [
    // name, from, to, durationMs, maxSpeedDegS, stepMs, steps
    ["duration rules a slow move", [90, 90], [100, 90], 1000, 90, 50, 20],
    ["speed rules a fast move", [90, 90], [180, 90], 100, 90, 50, 20],
    ["the furthest joint sets the pace", [0, 0], [10, 45], 0, 90, 50, 10],
    ["a partial step rounds up", [0, 0], [10, 0], 0, 90, 50, 3],
    ["no motion, no duration: one step", [90, 90], [90, 90], 0, 90, 50, 1],
    ["a dwell holds for its duration", [90, 90], [90, 90], 500, 90, 50, 10],
    ["exactly on a step boundary", [0, 0], [9, 0], 0, 180, 50, 1],
  ];
  it.each(cases)("%s", (_n, from, to, durationMs, speed, stepMs, steps) => {
    expect(segmentSteps(from, to, durationMs, speed, stepMs)).toBe(steps);
  });
});

describe("clampPose", () => {
  it.each([
    [[10, 200], [20, 180]],
    [[170, -5], [160, 0]],
    [[90, 90], [90, 90]],
  ])("%j -> %j", (pose, clamped) => {
    expect(clampPose(pose, limits)).toEqual(clamped);
  });
});

describe("MotionPlan", () => {
  it("reaches every waypoint exactly, clamped, and never steps further than the speed allows", () => {
    const waypoints: Waypoint[] = [
      { anglesDeg: [120, 60], durationMs: 100 },
      { anglesDeg: [200, 60], durationMs: 0 }, // beyond the joint's limit: stops at 160
      { anglesDeg: [160, 60], durationMs: 200 }, // a dwell
    ];
    const plan = new MotionPlan([90, 90], waypoints, limits, 180, 50);
    const reached: number[][] = [];
    const poses: number[][] = [];
    for (let step = plan.next(); step !== null; step = plan.next()) {
      poses.push(step.poseDeg);
      if (step.reached) reached.push(step.poseDeg);
    }
    expect(reached).toEqual([
      [120, 60],
      [160, 60],
      [160, 60],
    ]);
    let previous = [90, 90];
    for (const pose of poses) {
      pose.forEach((deg, i) => {
        expect(Math.abs(deg - (previous[i] ?? deg))).toBeLessThanOrEqual(9 + 1e-9); // 180 deg/s * 50 ms
        expect(deg).toBeGreaterThanOrEqual(limits[i]?.minDeg ?? 0);
        expect(deg).toBeLessThanOrEqual(limits[i]?.maxDeg ?? 180);
      });
      previous = pose;
    }
    // 30 deg at 180 deg/s: 4 steps; 40 deg: 5 steps; dwell 200 ms: 4 steps.
    expect(poses).toHaveLength(13);
    expect(plan.done).toBe(true);
    expect(plan.next()).toBeNull();
  });

  it("moves all joints together along a straight line in joint space", () => {
    const poses = run(new MotionPlan([20, 0], [{ anglesDeg: [60, 80], durationMs: 200 }], limits, 1000, 50));
    expect(poses).toEqual([
      [30, 20],
      [40, 40],
      [50, 60],
      [60, 80],
    ]);
  });

  it("starts from a clamped pose when the start lies outside the limits", () => {
    const poses = run(new MotionPlan([0, 90], [{ anglesDeg: [20, 90], durationMs: 0 }], limits, 90, 50));
    expect(poses).toEqual([[20, 90]]);
  });
});

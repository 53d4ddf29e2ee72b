export { BOARD_DISCONNECTED, DOOR_OPENED, type FirmataArmContext, FirmataArmDriver, type FirmataArmStats } from "./driver.ts";
export { type FirmataBoardSession, SERVO_PWM_RANGE_US, openFirmataBoard } from "./five.ts";
export { type JointLimits, MotionPlan, type MotionStep, type Waypoint, clampPose, segmentSteps } from "./motion.ts";
export { ARM_DEFAULTS, type ArmServoConfig, type ArmWaypoint, FIRMATA_BAUD, type FirmataArmOptions, resolveArmOptions } from "./options.ts";

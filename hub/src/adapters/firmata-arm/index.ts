export { BOARD_DISCONNECTED, DOOR_OPENED, type FirmataArmContext, FirmataArmDriver, type FirmataArmStats } from "./driver.ts";
export { type FirmataBoardSession, type HandshakeProgress, SERVO_PWM_RANGE_US, handshakeTimeoutError, openFirmataBoard, servoPulseUs } from "./five.ts";
export { type JointLimits, MotionPlan, type MotionStep, type Waypoint, clampPose, segmentSteps } from "./motion.ts";
export { ARM_DEFAULTS, type ArmServoConfig, type ArmWaypoint, FIRMATA_BAUD, FIRMATA_TCP_PORT, type FirmataArmOptions, resolveArmOptions } from "./options.ts";

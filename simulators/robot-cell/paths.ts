/**
 * Browse paths of a robot cell, relative to the Objects folder, in node-opcua's relative-path
 * syntax (`makeBrowsePath("ObjectsFolder", path)`). Pure data, so the hub's OPC UA adapter can take
 * them from config, per cell, without importing the simulator.
 *
 * Namespace indices are those of the simulator's server (the order it loads its nodesets in):
 * 0 OPC UA, 1 the server's own, 2 DI, 3 IA, 4 Robotics, 5 this simulator's instances. A real
 * controller numbers its namespaces its own way: a client should map the URIs in
 * `CELL_NAMESPACE_URIS` through the server's NamespaceArray, or be configured with that cell's
 * own paths.
 */

export const CELL_NAMESPACE_URIS = {
  di: "http://opcfoundation.org/UA/DI/",
  ia: "http://opcfoundation.org/UA/IA/",
  robotics: "http://opcfoundation.org/UA/Robotics/",
  cell: "urn:tec-hub:simulators:robot-cell",
} as const;

export const CELL_NAMESPACE_INDEX = { di: 2, ia: 3, robotics: 4, cell: 5 } as const;

export interface CellPaths {
  /** The MotionDeviceSystem (OPC 40010) that is the cell. */
  readonly cell: string;
  /** `.../Axes/Axis1..Axis6/ParameterSet/ActualPosition`, degrees, Double. */
  readonly axisPositions: readonly string[];
  /** `.../Axes/Axis1..Axis6/ParameterSet/ActualSpeed`, degrees per second, Double. */
  readonly axisSpeeds: readonly string[];
  readonly speedOverride: string;
  readonly safetyState: string;
  readonly operationalMode: string;
  readonly emergencyStop: string;
  readonly protectiveStop: string;
  /** The non-standard `Programs` object: OPC 40010's TaskControls is too thin for a lesson. */
  readonly programs: {
    readonly object: string;
    readonly programList: string;
    readonly loadedProgram: string;
    readonly programState: string;
    readonly lastError: string;
    readonly doorClosed: string;
    readonly speedOverride: string;
    readonly loadProgram: string;
    readonly startProgram: string;
    readonly stopProgram: string;
    readonly resetFault: string;
    readonly setSpeedOverride: string;
  };
}

export function cellPaths(cellName = "SimCell", armName = "Arm"): CellPaths {
  const { di, robotics: r, cell: c } = CELL_NAMESPACE_INDEX;
  const cell = `/${di}:DeviceSet/${c}:${cellName}`;
  const axis = (i: number): string => `${cell}/${r}:MotionDevices/${c}:${armName}/${r}:Axes/${c}:Axis${i}/${di}:ParameterSet`;
  const axes = [1, 2, 3, 4, 5, 6];
  const safetyState = `${cell}/${r}:SafetyStates/${c}:SafetyState`;
  const programs = `${cell}/${c}:Programs`;
  return {
    cell,
    axisPositions: axes.map((i) => `${axis(i)}/${r}:ActualPosition`),
    axisSpeeds: axes.map((i) => `${axis(i)}/${r}:ActualSpeed`),
    speedOverride: `${cell}/${r}:MotionDevices/${c}:${armName}/${di}:ParameterSet/${r}:SpeedOverride`,
    safetyState,
    operationalMode: `${safetyState}/${di}:ParameterSet/${r}:OperationalMode`,
    emergencyStop: `${safetyState}/${di}:ParameterSet/${r}:EmergencyStop`,
    protectiveStop: `${safetyState}/${di}:ParameterSet/${r}:ProtectiveStop`,
    programs: {
      object: programs,
      programList: `${programs}/${c}:ProgramList`,
      loadedProgram: `${programs}/${c}:LoadedProgram`,
      programState: `${programs}/${c}:ProgramState`,
      lastError: `${programs}/${c}:LastError`,
      doorClosed: `${programs}/${c}:DoorClosed`,
      speedOverride: `${programs}/${c}:SpeedOverride`,
      loadProgram: `${programs}/${c}:LoadProgram`,
      startProgram: `${programs}/${c}:StartProgram`,
      stopProgram: `${programs}/${c}:StopProgram`,
      resetFault: `${programs}/${c}:ResetFault`,
      setSpeedOverride: `${programs}/${c}:SetSpeedOverride`,
    },
  };
}

export const DEFAULT_CELL_PATHS: CellPaths = cellPaths();

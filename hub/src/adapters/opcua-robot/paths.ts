/**
 * Where a robot cell keeps what the hub reads and calls, as OPC UA browse paths relative to the
 * Objects folder, with namespaces named by URI rather than index (`{di}`, `{robotics}`, `{vendor}`):
 * a real cell maps by configuration, without code. The defaults follow OPC 40010 (Robotics) under
 * DI's DeviceSet, plus a vendor `Programs` object (OPC 40010's TaskControls is too thin for a
 * lesson; every real controller needs its own mapping for programs anyway).
 */
export const STANDARD_NAMESPACES = {
  di: "http://opcfoundation.org/UA/DI/",
  robotics: "http://opcfoundation.org/UA/Robotics/",
} as const;

export interface CellMapping {
  /** The vendor (or simulator) namespace URI of the cell's own nodes. */
  vendorNamespace: string;
  cell: string;
  arm: string;
  axes: number;
}

export interface CellPathSet {
  axisPositions: string[];
  operationalMode: string;
  emergencyStop: string;
  protectiveStop: string;
  doorClosed: string;
  programState: string;
  loadedProgram: string;
  lastError: string;
  programList: string;
  programsObject: string;
  loadProgram: string;
  startProgram: string;
  stopProgram: string;
  resetFault: string;
}

/** The default path templates; `{di}`, `{robotics}` and `{vendor}` become namespace indices at connect time. */
export function defaultPaths(m: CellMapping): CellPathSet {
  const cell = `/{di}:DeviceSet/{vendor}:${m.cell}`;
  const axis = (i: number) => `${cell}/{robotics}:MotionDevices/{vendor}:${m.arm}/{robotics}:Axes/{vendor}:Axis${i}/{di}:ParameterSet/{robotics}:ActualPosition`;
  const safety = `${cell}/{robotics}:SafetyStates/{vendor}:SafetyState/{di}:ParameterSet`;
  const programs = `${cell}/{vendor}:Programs`;
  return {
    axisPositions: Array.from({ length: m.axes }, (_, i) => axis(i + 1)),
    operationalMode: `${safety}/{robotics}:OperationalMode`,
    emergencyStop: `${safety}/{robotics}:EmergencyStop`,
    protectiveStop: `${safety}/{robotics}:ProtectiveStop`,
    doorClosed: `${programs}/{vendor}:DoorClosed`,
    programState: `${programs}/{vendor}:ProgramState`,
    loadedProgram: `${programs}/{vendor}:LoadedProgram`,
    lastError: `${programs}/{vendor}:LastError`,
    programList: `${programs}/{vendor}:ProgramList`,
    programsObject: programs,
    loadProgram: `${programs}/{vendor}:LoadProgram`,
    startProgram: `${programs}/{vendor}:StartProgram`,
    stopProgram: `${programs}/{vendor}:StopProgram`,
    resetFault: `${programs}/{vendor}:ResetFault`,
  };
}

/** Replaces `{di}`, `{robotics}`, `{vendor}` with the server's indices of those namespace URIs. */
export function resolvePath(template: string, namespaceArray: readonly string[], vendorNamespace: string): string {
  const uris: Record<string, string> = { di: STANDARD_NAMESPACES.di, robotics: STANDARD_NAMESPACES.robotics, vendor: vendorNamespace };
  return template.replace(/\{(di|robotics|vendor)\}/g, (_m, alias: string) => {
    const uri = uris[alias] ?? "";
    const index = namespaceArray.indexOf(uri);
    if (index < 0) throw new Error(`the server has no namespace ${uri} (needed for {${alias}})`);
    return String(index);
  });
}

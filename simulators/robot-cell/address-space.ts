/**
 * The cell's OPC UA address space: real OPC 40010 Robotics instances (MotionDeviceSystemType,
 * MotionDeviceType, AxisType, ControllerType, SafetyStateType) under the DI DeviceSet, so a client
 * reads the same browse paths as on a controller with a native Robotics companion server; plus a
 * non-standard `Programs` object with the variables and methods a lesson needs, and OffNormal
 * alarms for e-stop, protective stop and door open.
 *
 * The address space mirrors the cell: every change of the cell is written with
 * `setValueFromSource` (no getters), so subscriptions and alarms see it at once and with the
 * cell's timestamp, and the OffNormal alarms evaluate on the same value change.
 */
import {
  ConditionInfo,
  DataType,
  EventNotifierFlags,
  NodeClass,
  makeEUInformation,
  standardUnits,
  StatusCodes,
  VariantArrayType,
  type AddressSpace,
  type CallMethodResultOptions,
  type ISessionContext,
  type Namespace,
  type UAObject,
  type UAVariable,
  type Variant,
} from "node-opcua";
import { type CellResult, type CellSnapshot, type RobotCell } from "./cell.ts";
import { CELL_NAMESPACE_INDEX, CELL_NAMESPACE_URIS } from "./paths.ts";
import { AXIS_COUNT } from "./programs.ts";

/** UNECE Rec 20 code E96. */
const DEGREE_PER_SECOND = makeEUInformation("E96", "°/s", "degree per second");

/** Sampling floor of every variable: subscriptions see a change within 100-250 ms. */
export const MIN_SAMPLING_INTERVAL_MS = 100;

export interface CellModelOptions {
  cellName: string;
  armName: string;
}

/** Builds the model and returns a function that writes a snapshot into it. */
export function buildCellModel(addressSpace: AddressSpace, cell: RobotCell, opts: CellModelOptions): (s: CellSnapshot) => void {
  const nsDI = namespaceIndex(addressSpace, "di");
  const nsR = namespaceIndex(addressSpace, "robotics");
  const ns = addressSpace.registerNamespace(CELL_NAMESPACE_URIS.cell);
  if (ns.index !== CELL_NAMESPACE_INDEX.cell) throw new Error(`robot cell namespace got index ${ns.index}, paths assume ${CELL_NAMESPACE_INDEX.cell}`);
  const q = (name: string): { name: string; namespaceIndex: number } => ({ name, namespaceIndex: ns.index });
  const objectType = (name: string) => {
    const t = addressSpace.findObjectType(name, nsR);
    if (t === null) throw new Error(`Robotics nodeset has no ${name}`);
    return t;
  };
  const child = (parent: UAObject, name: string, nsIndex: number): UAObject => {
    const c = parent.getComponentByName(name, nsIndex);
    if (c === null || !isObject(c)) throw new Error(`${parent.browseName.toString()} has no component ${nsIndex}:${name}`);
    return c;
  };
  const variable = (parent: UAObject, name: string, nsIndex: number): UAVariable => {
    const c = parent.getComponentByName(name, nsIndex) ?? parent.getPropertyByName(name, nsIndex);
    if (c === null || isObject(c)) throw new Error(`${parent.browseName.toString()} has no variable ${nsIndex}:${name}`);
    c.minimumSamplingInterval = MIN_SAMPLING_INTERVAL_MS;
    return c;
  };
  const setConst = (parent: UAObject, name: string, nsIndex: number, value: string | number, dataType: DataType): void => {
    variable(parent, name, nsIndex).setValueFromSource({ dataType, value });
  };

  const objects = addressSpace.rootFolder.objects;
  const deviceSet = objects.getFolderElementByName("DeviceSet", nsDI);
  if (deviceSet === null) throw new Error("DI nodeset has no DeviceSet");

  // Events of the cell (the alarms below) reach clients subscribed to the Server object.
  const system = objectType("MotionDeviceSystemType").instantiate({
    browseName: q(opts.cellName),
    componentOf: deviceSet,
    namespace: ns,
    eventNotifier: EventNotifierFlags.SubscribeToEvents,
    notifierOf: objects.server,
  });

  const arm = objectType("MotionDeviceType").instantiate({ browseName: q(opts.armName), componentOf: child(system, "MotionDevices", nsR), namespace: ns });
  setConst(arm, "Manufacturer", nsDI, "TEC Hub", DataType.LocalizedText);
  setConst(arm, "Model", nsDI, "SimArm 6", DataType.LocalizedText);
  setConst(arm, "ProductCode", nsDI, "SIM-ARM-6", DataType.String);
  setConst(arm, "SerialNumber", nsDI, `SIM-${opts.cellName}`, DataType.String);
  setConst(arm, "MotionDeviceCategory", nsR, 1 /* ARTICULATED_ROBOT */, DataType.Int32);
  const armSpeedOverride = variable(child(arm, "ParameterSet", nsDI), "SpeedOverride", nsR);

  const axesFolder = child(arm, "Axes", nsR);
  const axisVars = Array.from({ length: AXIS_COUNT }, (_, i) => {
    const axis = objectType("AxisType").instantiate({
      browseName: q(`Axis${i + 1}`),
      componentOf: axesFolder,
      namespace: ns,
      optionals: ["ParameterSet.ActualSpeed"],
    });
    setConst(axis, "MotionProfile", nsR, 1 /* ROTARY */, DataType.Int32);
    const params = child(axis, "ParameterSet", nsDI);
    const position = variable(params, "ActualPosition", nsR);
    const speed = variable(params, "ActualSpeed", nsR);
    // Both are AnalogUnitType: EngineeringUnits is mandatory.
    position.getPropertyByName("EngineeringUnits")?.setValueFromSource({ dataType: DataType.ExtensionObject, value: standardUnits.degree });
    speed.getPropertyByName("EngineeringUnits")?.setValueFromSource({ dataType: DataType.ExtensionObject, value: DEGREE_PER_SECOND });
    return { position, speed };
  });

  const controller = objectType("ControllerType").instantiate({ browseName: q("Controller"), componentOf: child(system, "Controllers", nsR), namespace: ns });
  setConst(controller, "Manufacturer", nsDI, "TEC Hub", DataType.LocalizedText);
  setConst(controller, "Model", nsDI, "SimController", DataType.LocalizedText);
  setConst(controller, "ProductCode", nsDI, "SIM-CTRL", DataType.String);
  setConst(controller, "SerialNumber", nsDI, `SIM-${opts.cellName}-CTRL`, DataType.String);

  const safetyState = objectType("SafetyStateType").instantiate({ browseName: q("SafetyState"), componentOf: child(system, "SafetyStates", nsR), namespace: ns });
  const safetyParams = child(safetyState, "ParameterSet", nsDI);
  const operationalMode = variable(safetyParams, "OperationalMode", nsR);
  const emergencyStop = variable(safetyParams, "EmergencyStop", nsR);
  const protectiveStop = variable(safetyParams, "ProtectiveStop", nsR);

  const programs = ns.addObject({ browseName: "Programs", componentOf: system, description: "Program control of the simulated cell (non-standard)." });
  const addVar = (browseName: string, dataType: DataType, value: string | number | boolean | string[], description: string): UAVariable =>
    ns.addVariable({
      componentOf: programs,
      browseName,
      description,
      dataType,
      ...(Array.isArray(value) ? { valueRank: 1, arrayDimensions: [0] } : {}),
      minimumSamplingInterval: MIN_SAMPLING_INTERVAL_MS,
      value: Array.isArray(value) ? { dataType, arrayType: VariantArrayType.Array, value } : { dataType, value },
    });
  // Constant for the life of the server: the program library is fixed at start.
  addVar("ProgramList", DataType.String, [...cell.programs.keys()], "Names of the programs the cell knows.");
  const loadedProgram = addVar("LoadedProgram", DataType.String, "", "Name of the loaded program, empty if none.");
  const programState = addVar("ProgramState", DataType.String, "idle", "idle, loaded, running, stopped, done or error.");
  const lastError = addVar("LastError", DataType.String, "", "Why the cell last stopped or failed.");
  // Created in their normal state: the alarms below fire on the first change away from it.
  const doorClosed = addVar("DoorClosed", DataType.Boolean, true, "Cell door (guard interlock) closed.");
  const speedOverride = addVar("SpeedOverride", DataType.Double, 100, "Speed override, percent.");

  addMethod(ns, programs, "LoadProgram", "Loads a program by name.", [{ name: "Name", dataType: DataType.String }], (args) =>
    cell.loadProgram(stringArg(args[0])),
  );
  addMethod(ns, programs, "StartProgram", "Starts the loaded program if every permissive holds.", [], () => cell.startProgram());
  addMethod(ns, programs, "StopProgram", "Stops the program; always accepted.", [], () => cell.stopProgram());
  addMethod(ns, programs, "ResetFault", "Clears latched stops once their cause is gone. Does not restart.", [], () => cell.resetFault());
  addMethod(ns, programs, "SetSpeedOverride", "Sets the speed override, percent 0..100.", [{ name: "Percent", dataType: DataType.Double }], (args) =>
    cell.setSpeedOverride(numberArg(args[0])),
  );

  // OPC 40010 §5.1 leaves alarms to the vendor; here each safety input is an OffNormalAlarm
  // (OPC 10000-9 §5.8.23): active while its input differs from its normal state.
  addressSpace.installAlarmsAndConditionsService();
  const alarms = ns.addObject({ browseName: "Alarms", componentOf: system });
  const normal = (browseName: string, value: boolean): UAVariable =>
    ns.addVariable({ componentOf: alarms, browseName, dataType: DataType.Boolean, value: { dataType: DataType.Boolean, value } });
  const normalFalse = normal("NormalFalse", false);
  const normalTrue = normal("NormalTrue", true);
  const offNormal = (browseName: string, inputNode: UAVariable, normalState: UAVariable, severity: number, activeMessage: string, normalMessage: string): void => {
    // The input is the condition's source (SourceName tells which input fired); HasEventSource
    // from the cell, which is a notifier of Server, carries its events to Server subscribers.
    system.addReference({ referenceType: "HasEventSource", nodeId: inputNode.nodeId });
    const alarm = ns.instantiateOffNormalAlarm({ browseName, componentOf: alarms, conditionSource: inputNode, inputNode, normalState });
    // node-opcua fills SourceName with the qualified name ("4:EmergencyStop"); clients show it.
    alarm.sourceName.setValueFromSource({ dataType: DataType.String, value: inputNode.browseName.name ?? browseName });
    alarm.calculateConditionInfo = (_state, isActive) =>
      new ConditionInfo({ message: isActive ? activeMessage : normalMessage, severity: isActive ? severity : 0, quality: StatusCodes.Good, retain: isActive });
  };
  offNormal("EmergencyStopAlarm", emergencyStop, normalFalse, 1000, "Emergency stop active", "Emergency stop reset");
  offNormal("ProtectiveStopAlarm", protectiveStop, normalFalse, 900, "Protective stop active", "Protective stop reset");
  offNormal("DoorOpenAlarm", doorClosed, normalTrue, 700, "Cell door open", "Cell door closed");

  const writers: ((s: CellSnapshot) => void)[] = [
    ...axisVars.flatMap((a, i) => [
      writer(a.position, DataType.Double, (s) => s.axesDeg[i] ?? 0),
      writer(a.speed, DataType.Double, (s) => s.speedsDegS[i] ?? 0),
    ]),
    writer(armSpeedOverride, DataType.Double, (s) => s.speedOverridePct),
    writer(speedOverride, DataType.Double, (s) => s.speedOverridePct),
    writer(operationalMode, DataType.Int32, (s) => s.mode),
    writer(emergencyStop, DataType.Boolean, (s) => s.emergencyStop),
    writer(protectiveStop, DataType.Boolean, (s) => s.protectiveStop),
    writer(doorClosed, DataType.Boolean, (s) => s.doorClosed),
    writer(loadedProgram, DataType.String, (s) => s.loadedProgram),
    writer(programState, DataType.String, (s) => s.programState),
    writer(lastError, DataType.String, (s) => s.lastError),
  ];
  return (s) => {
    for (const write of writers) write(s);
  };
}

/** Writes a variable only when its value changed, so a monitored item reports real changes only. */
function writer<T extends string | number | boolean>(v: UAVariable, dataType: DataType, pick: (s: CellSnapshot) => T): (s: CellSnapshot) => void {
  let last: T | undefined;
  return (s) => {
    const value = pick(s);
    if (value === last) return;
    last = value;
    v.setValueFromSource({ dataType, value });
  };
}

function addMethod(
  ns: Namespace,
  parent: UAObject,
  browseName: string,
  description: string,
  inputArguments: { name: string; dataType: DataType }[],
  run: (args: Variant[]) => CellResult,
): void {
  const method = ns.addMethod(parent, {
    browseName,
    description,
    inputArguments: inputArguments.map((a) => ({ ...a, valueRank: -1 })),
    outputArguments: [{ name: "Result", description: "Empty on success, else why the call was refused.", dataType: DataType.String, valueRank: -1 }],
  });
  // node-opcua tells the callback form from the promise form by arity: keep three parameters.
  method.bindMethod((args: Variant[], _context: ISessionContext, callback: (err: Error | null, result: CallMethodResultOptions) => void) => {
    callback(null, toCallResult(run(args)));
  });
}

/** Refusals travel as a Bad status plus the reason as the String output (OPC 10000-4 §5.11.2). */
export function toCallResult(r: CellResult): CallMethodResultOptions {
  const statusCode = r.ok ? StatusCodes.Good : r.code === "INVALID_ARGUMENT" ? StatusCodes.BadInvalidArgument : StatusCodes.BadInvalidState;
  return { statusCode, outputArguments: [{ dataType: DataType.String, value: r.ok ? "" : r.reason }] };
}

function stringArg(v: Variant | undefined): string {
  return typeof v?.value === "string" ? v.value : "";
}

function numberArg(v: Variant | undefined): number {
  return typeof v?.value === "number" ? v.value : Number.NaN;
}

function isObject(node: UAObject | UAVariable): node is UAObject {
  return node.nodeClass === NodeClass.Object;
}

function namespaceIndex(addressSpace: AddressSpace, key: "di" | "robotics"): number {
  const index = addressSpace.getNamespaceIndex(CELL_NAMESPACE_URIS[key]);
  if (index !== CELL_NAMESPACE_INDEX[key]) throw new Error(`namespace ${CELL_NAMESPACE_URIS[key]} is at ${index}, paths assume ${CELL_NAMESPACE_INDEX[key]}`);
  return index;
}


/**
 * The hub's own words: every sentence the hub composes for people, in Dutch (B1: short, plain) and
 * English, as templates with `{placeholders}`. Call sites use `text(key, args)` (texts.ts); nothing
 * in hub/src builds a `{ nl, en }` sentence of its own (texts.test.ts scans the sources). Texts a
 * config provides (rule names, reasons, kiosk lines, device names) are not here: they come with it.
 *
 * Staff texts carry no ids or raw values: those stay in the technician's details (an interlock's
 * cause, a station's `details`). Sentences for staff start with a capital and end with a full
 * stop, so several of them can be shown one after another.
 */
export const HUB_STRINGS = {
  // Joining lists of names and causes.
  "word.and": { nl: "en", en: "and" },
  "word.or": { nl: "of", en: "or" },
  "role.technician": { nl: "een technicus", en: "a technician" },
  "role.instructor": { nl: "een begeleider", en: "an instructor" },

  // Inputs of interlocks: technician's detail (names the input).
  "input.missing": { nl: "meetwaarde {input} ontbreekt", en: "reading {input} is missing" },
  "input.stale": { nl: "meetwaarde {input} is verouderd", en: "reading {input} is stale" },
  "input.invalid": { nl: "meetwaarde {input} is ongeldig", en: "reading {input} is invalid" },
  "input.deviceFault": { nl: "apparaat {device} meldt een storing", en: "device {device} reports a fault" },
  "input.deviceOffline": { nl: "apparaat {device} is offline", en: "device {device} is offline" },
  "input.deviceUnavailable": { nl: "apparaat {device} is niet bereikbaar", en: "device {device} is not available" },
  // Conditions: technician's detail.
  "condition.tripped": { nl: "vergrendeling {interlock} actief", en: "interlock {interlock} active" },
  "condition.notYetBelow": { nl: "{input} {value}, nog niet onder {limit}", en: "{input} {value}, not yet below {limit}" },
  "condition.notYetAbove": { nl: "{input} {value}, nog niet boven {limit}", en: "{input} {value}, not yet above {limit}" },
  "condition.stuck": { nl: "{input} staat al {seconds} s vast op {value}", en: "{input} stuck at {value} for {seconds} s" },

  // Why something may not start (staff): one sentence per interlock, no ids.
  "permit.estop": { nl: "De noodstop is actief.", en: "The emergency stop is active." },
  "permit.estopNotReset": { nl: "De noodstop is nog niet vrijgegeven.", en: "The emergency stop has not been released yet." },
  "permit.waiting": { nl: "{rule}: de hub wacht nog op verse meetwaarden.", en: "{rule}: the hub is still waiting for fresh readings." },
  "permit.notReset": { nl: "{rule} is nog niet gereset.", en: "{rule} has not been reset yet." },

  // Resets of interlocks refused.
  "reset.noSuchRule": { nl: "Er is geen vergrendeling \"{id}\".", en: "There is no interlock \"{id}\"." },
  "reset.forbidden": { nl: "Alleen {roles} mag {rule} resetten.", en: "Only {roles} may reset {rule}." },
  "reset.nothing": { nl: "Er is niets te resetten.", en: "There is nothing to reset." },
  "reset.waiting": { nl: "De hub wacht nog op verse meetwaarden: {detail}.", en: "The hub is still waiting for fresh readings: {detail}." },
  "reset.causeActive": { nl: "De oorzaak is er nog: {detail}.", en: "The cause is still there: {detail}." },
  "reset.causeBack": { nl: "De oorzaak is er weer (nog korter dan de vertraging van de regel).", en: "The cause is back (for less than the rule's delay so far)." },
  "reset.clearFor": { nl: "De meetwaarden moeten nog {seconds} s in orde blijven.", en: "The readings must stay fine for another {seconds} s." },

  // The emergency stop, built in. The machines stop; the house itself keeps using power.
  "estop.name": { nl: "Noodstop", en: "Emergency stop" },
  "estop.reason": { nl: "Noodstop: alle machines staan stil", en: "Emergency stop: every machine is stopped" },
  "estop.kiosk": {
    nl: "Iemand heeft op de noodstop gedrukt. De machines zijn veilig gestopt tot een begeleider ze weer vrijgeeft. Het huis zelf gebruikt nog wel stroom.",
    en: "Someone pressed the emergency stop. The machines are stopped safely until a grown-up releases them. The house itself still uses power.",
  },
  "estop.by": { nl: "noodstop door {who}", en: "emergency stop by {who}" },
  "estop.whoTerminal": { nl: "noodstopscherm {terminal}", en: "e-stop screen {terminal}" },
  "estop.whoHubMachine": { nl: "het scherm op de computer van de hub", en: "the screen on the hub's own computer" },
  "estop.unregistered": {
    nl: "Dit scherm mag de noodstop niet zonder inloggen geven. Gebruik de rode noodknop, of log in.",
    en: "This screen is not registered for the emergency stop without a login. Use the red button, or log in.",
  },

  // Alarms.
  "alarm.trip": { nl: "{reason}: {detail}", en: "{reason}: {detail}" },
  "alarm.inputStale": {
    nl: "{input}: geen verse meting sinds {since}. Daarom staat \"{rule}\" voor de zekerheid aan.",
    en: "{input}: no fresh reading since {since}. So \"{rule}\" is on to be safe.",
  },
  "alarm.inputStaleNever": {
    nl: "{input}: nog geen meting ontvangen. Daarom staat \"{rule}\" voor de zekerheid aan.",
    en: "{input}: no reading received yet. So \"{rule}\" is on to be safe.",
  },
  "alarm.inputInvalid": {
    nl: "{input}: de laatste meting was ongeldig. Daarom staat \"{rule}\" voor de zekerheid aan.",
    en: "{input}: the last reading was invalid. So \"{rule}\" is on to be safe.",
  },
  "alarm.inputOffline": {
    nl: "{device} is niet bereikbaar, dus {input} is onbekend. Daarom staat \"{rule}\" voor de zekerheid aan.",
    en: "{device} cannot be reached, so {input} is unknown. So \"{rule}\" is on to be safe.",
  },
  "alarm.escalation": {
    nl: "{actuator} bevestigt de veilige stand niet ({error}); het apparaat valt terug op zijn eigen lease",
    en: "{actuator} does not confirm its safe state ({error}); the device falls back on its own lease",
  },
  "alarm.deviceOffline": { nl: "{device} is offline", en: "{device} is offline" },
  "alarm.mqttTakeover": {
    nl: "Een ander account probeerde de MQTT-verbinding van {device} over te nemen (geweigerd): {message}",
    en: "Another account tried to take over {device}'s MQTT session (refused): {message}",
  },
  "alarm.brokerRestarted": { nl: "De MQTT-broker van de hub is opnieuw gestart: {reason}", en: "The hub's MQTT broker was restarted: {reason}" },
  "alarm.brokerNotEnforcing": {
    nl: "De externe MQTT-broker ({url}) houdt zich niet aan de regels van de hub: {problems}. Dan kan iedereen op het netwerk zich voordoen als een apparaat. Maak de bestanden van de broker met tec-hub broker-config.",
    en: "The external MQTT broker ({url}) does not enforce the hub's rules: {problems}. Anyone on the network can then pose as a device. Make the broker's files with tec-hub broker-config.",
  },
  "brokerCheck.anonymous": { nl: "een client zonder gebruikersnaam komt binnen", en: "a client without user name gets in" },
  "brokerCheck.unknownAccount": { nl: "een onbekend account komt binnen", en: "an unknown account gets in" },
  "brokerCheck.observerPublishes": { nl: "het account dat alleen mag lezen (observer) kan berichten versturen", en: "the read-only observer account can publish" },
  "alarm.guessing": {
    nl: "Iemand raadt de pincode of het wachtwoord van {name}: {count} foute pogingen binnen {hours} uur. Alleen adressen zonder eerdere foute pogingen mogen het nog proberen.",
    en: "Someone is guessing the PIN or password of {name}: {count} wrong attempts within {hours} h. Only addresses without earlier wrong attempts may still try it.",
  },
  "alarm.diskLow": {
    nl: "Minder dan {mark} MB vrij op de schijf van de hub ({free} MB): de geschiedenis wordt ingekort (ruwe metingen {rawH} uur, minuutwaarden {minuteD} dagen). Het auditlog blijft bewaard. Maak ruimte vrij.",
    en: "Less than {mark} MB free on the hub's disk ({free} MB): history is being trimmed (raw readings {rawH} h, minute values {minuteD} days). The audit log is kept. Free some space.",
  },
  "alarm.backupFailed": {
    nl: "De automatische back-up van de database in {folder} is mislukt: {reason}. De vorige back-ups zijn bewaard.",
    en: "The automatic backup of the database into {folder} failed: {reason}. The earlier backups are kept.",
  },
  "alarm.backupSkippedDiskLow": {
    nl: "De automatische back-up is overgeslagen: er is te weinig ruimte op de schijf van de hub. Maak ruimte vrij.",
    en: "The automatic backup was skipped: the hub's disk is low on space. Free some space.",
  },
  "alarm.backupSkippedNoRoom": {
    nl: "De automatische back-up is overgeslagen: {free} MB vrij in {folder}, {need} MB nodig. Maak ruimte vrij of kies een andere map.",
    en: "The automatic backup was skipped: {free} MB free in {folder}, {need} MB needed. Free some space or choose another folder.",
  },

  // Device states (LiveDevice.stateText), from the registry's state.
  "device.state.unknown": { nl: "Nog niets van gehoord sinds de hub startte.", en: "Nothing heard since the hub started." },
  "device.state.init": { nl: "Verbonden; wacht op de eerste meting van elk kanaal.", en: "Connected; waiting for the first reading of every channel." },
  "device.state.initMeta": { nl: "Verbonden; wacht tot het apparaat zegt wat het meet.", en: "Connected; waiting for the device to describe itself." },
  "device.state.ready": { nl: "Alle metingen vers en geldig.", en: "Every reading fresh and valid." },
  "device.state.stale": { nl: "Geen verse meting van: {channels}.", en: "No fresh reading of: {channels}." },
  "device.state.invalid": { nl: "Ongeldige meting van: {channels}.", en: "Invalid reading of: {channels}." },
  "device.state.degraded": { nl: "Het apparaat meldt dat het niet goed werkt.", en: "The device reports it is not working well." },
  "device.state.offline": { nl: "Offline: het apparaat is weg.", en: "Offline: the device has gone." },
  "device.state.fault": { nl: "Het apparaat meldt een storing.", en: "The device reports a fault." },

  // Stations (instructor console).
  "station.notInCatalogue": { nl: "\"{program}\" staat niet in de goedgekeurde lijst van {station}.", en: "\"{program}\" is not in {station}'s approved list." },
  "station.notInVisit": { nl: "{station} hoort niet bij het bezoek \"{visit}\".", en: "{station} is not part of the visit \"{visit}\"." },
  "station.waitingForReset": { nl: "{reason} Wacht op een reset.", en: "{reason} Waiting for a reset." },
  "station.mayNotStart": { nl: "{station} mag niet starten. {reasons}", en: "{station} may not start. {reasons}" },

  // Robots.
  "robot.default": { nl: "de robot", en: "the robot" },
  "robot.noInstructor": { nl: "Er is geen begeleider aangemeld (open een bezoek).", en: "No instructor is signed in (open a visit)." },
  "robot.noConnection": { nl: "Er is geen verbinding met {robot}.", en: "There is no connection to {robot}." },
  "robot.doorOpen": { nl: "De deur van {robot} staat open.", en: "The door of {robot} is open." },
  "robot.estopPressed": { nl: "De noodstop van {robot} is ingedrukt.", en: "The emergency stop of {robot} is pressed." },
  "robot.protectiveStop": { nl: "{robot} staat in een beschermende stop.", en: "{robot} is in a protective stop." },
  "robot.notAutomatic": { nl: "{robot} staat niet op automatisch.", en: "{robot} is not in automatic mode." },
  "robot.alreadyRunning": { nl: "Er draait al een programma.", en: "A program is already running." },
  "robot.reportsError": { nl: "{robot} meldt een fout.", en: "{robot} reports an error." },
  "robot.state.connectionLost": { nl: "De verbinding met {robot} is weg.", en: "The connection to {robot} is lost." },
  "robot.state.programError": { nl: "Fout in het programma.", en: "Error in the program." },
  "robot.state.protectiveStop": { nl: "Beschermende stop (deur of lichtscherm).", en: "Protective stop (door or light curtain)." },
  "robot.state.stopping": { nl: "Stoppen.", en: "Stopping." },
  "robot.state.running": { nl: "{program} draait.", en: "Running {program}." },
  "robot.state.runningUnknown": { nl: "Er draait een programma.", en: "A program is running." },
  "robot.state.stopped": { nl: "Gestopt voordat het programma klaar was.", en: "Stopped before the program finished." },
  "robot.state.ready": { nl: "Klaar om te starten.", en: "Ready to start." },
  "robot.fault.connectionLost": { nl: "De verbinding met {robot} ging weg tijdens het programma.", en: "The connection to {robot} was lost during the program." },
  "robot.fault.estop": { nl: "De noodstop van {robot} is ingedrukt.", en: "The emergency stop of {robot} was pressed." },
  "robot.fault.door": { nl: "Gestopt: de deur ging open tijdens het programma.", en: "Stopped: the door opened during the program." },
  "robot.fault.protectiveStop": { nl: "Gestopt met een beschermende stop.", en: "Stopped with a protective stop." },
  "robot.fault.programError": { nl: "Gestopt met een fout in het programma.", en: "Stopped with an error in the program." },
  "robot.unknownProgram": { nl: "{robot} kent het programma \"{program}\" niet.", en: "{robot} does not offer the program \"{program}\"." },
  "robot.firmataNote": { nl: "Servo-arm op StandardFirmata: geen hartslag, de hub stuurt elke stap.", en: "Servo arm on StandardFirmata: no heartbeat, the hub drives every step." },
  "robot.rule.door.name": { nl: "{robot}: deur open tijdens programma", en: "{robot}: door opened during a program" },
  "robot.rule.door.reason": { nl: "{robot} is gestopt: de deur ging open terwijl de robot bewoog", en: "{robot} stopped: the door was opened while the robot was moving" },
  "robot.rule.door.kiosk": {
    nl: "De deur van de robot ging open terwijl hij bewoog. Hij is meteen gestopt, zodat niemand geraakt wordt.",
    en: "The robot's door opened while it was moving. It stopped at once so nobody gets hit.",
  },
  "robot.rule.estop.name": { nl: "{robot}: noodstop", en: "{robot}: emergency stop" },
  "robot.rule.estop.reason": { nl: "De noodstop van {robot} is ingedrukt", en: "The emergency stop of {robot} is pressed" },
  "robot.rule.fault.name": { nl: "{robot}: storing", en: "{robot}: fault" },
  "robot.rule.fault.reason": { nl: "{robot} is gestopt met een storing", en: "{robot} stopped with a fault" },
  "robot.rule.fault.kiosk": { nl: "De robot merkte dat er iets mis was en is gestopt. Een begeleider kijkt ernaar.", en: "The robot noticed something was wrong and stopped. A grown-up will have a look." },
  "robot.rule.resetEffect": { nl: "De foutstand van de robot wordt gewist; er start niets.", en: "The robot's fault state is cleared; nothing starts." },

  // Printers.
  "printer.halt.thermalRunaway": { nl: "de temperatuur liep uit de hand (thermal runaway)", en: "thermal runaway" },
  "printer.halt.heatingFailed": { nl: "het verwarmen lukte niet", en: "heating failed" },
  "printer.halt.mintemp": { nl: "de temperatuursensor is los of kapot (MINTEMP)", en: "the temperature sensor is open (MINTEMP)" },
  "printer.halt.maxtemp": { nl: "de temperatuursensor is kortgesloten of te heet (MAXTEMP)", en: "the temperature sensor is shorted or too hot (MAXTEMP)" },
  "printer.halt.killed": { nl: "de firmware is gestopt", en: "the firmware stopped" },
  "printer.halt.fatal": { nl: "de firmware heeft een zware fout", en: "the firmware has a fatal error" },
  "printer.haltedByFirmware": { nl: "{printer} is gestopt door zijn firmware: {what}.", en: "{printer} was halted by its firmware: {what}." },
  "printer.haltedByWatchdog": { nl: "De hub heeft {printer} gestopt: {what}.", en: "The hub stopped {printer}: {what}." },
  "printer.stoppedByEstop": { nl: "{printer} is gestopt met de noodstop.", en: "{printer} was stopped by the emergency stop." },
  "printer.halted": { nl: "{printer} is gestopt.", en: "{printer} is halted." },
  "printer.lostDuringPrint": { nl: "{printer} was niet meer bereikbaar tijdens een print.", en: "{printer} could not be reached during a print." },
  "printer.notReady": { nl: "{printer} is nog niet klaar.", en: "{printer} is not ready yet." },
  "printer.busy": { nl: "{printer} print al {job}.", en: "{printer} is already printing {job}." },
  "printer.attention.clearPlate": { nl: "{printer} wacht tot de bouwplaat leeg is: haal de print eraf en bevestig op het scherm van de printer.", en: "{printer} waits for its build plate to be cleared: take the print off and confirm on the printer's screen." },
  "printer.attention.atPrinter": { nl: "{printer} wacht op iemand bij de printer: kijk op het scherm van de printer.", en: "{printer} waits for someone at the printer: see the printer's screen." },
  "printer.noThermalProtection": { nl: "{printer} heeft geen thermische beveiliging: de hub laat hem niet verwarmen.", en: "{printer} reports no thermal protection: the hub will not heat it." },
  "printer.state.offline": { nl: "Geen verbinding met de printer.", en: "No connection to the printer." },
  "printer.state.connecting": { nl: "Verbinden met de printer.", en: "Connecting to the printer." },
  "printer.state.printing": { nl: "Print {job}.", en: "Printing {job}." },
  "printer.state.paused": { nl: "{job} is gepauzeerd.", en: "{job} is paused." },
  "printer.state.stopping": { nl: "Stoppen.", en: "Stopping." },
  "printer.state.ready": { nl: "Klaar voor een demo.", en: "Ready for a demo." },
  "printer.state.readyAfter": { nl: "Klaar voor een demo. Laatste taak: {result}.", en: "Ready for a demo. Last job: {result}." },
  "printer.job.done": { nl: "klaar", en: "finished" },
  "printer.job.estop": { nl: "gestopt met de noodstop", en: "stopped by the emergency stop" },
  "printer.job.cancelled": { nl: "gestopt", en: "stopped" },
  "printer.job.printerHalted": { nl: "afgebroken: de printer stopte", en: "aborted: the printer halted" },
  "printer.job.printerLost": { nl: "afgebroken: de printer was niet meer bereikbaar", en: "aborted: the printer could not be reached" },
  "printer.job.failed": { nl: "mislukt", en: "failed" },
  "printer.heater.hotend": { nl: "spuitmond", en: "hotend" },
  "printer.heater.bed": { nl: "printbed", en: "bed" },
  "printer.thermal.notHeating": {
    nl: "{heater} warmt niet op: geen {gainC} °C erbij in {periodS} s ({actualC} °C, doel {targetC} °C)",
    en: "{heater} is not heating: did not gain {gainC} °C in {periodS} s ({actualC} °C, target {targetC} °C)",
  },
  "printer.thermal.offTarget": {
    nl: "{heater} wijkt {offC} °C af van het doel, langer dan {periodS} s (thermal runaway)",
    en: "{heater} is {offC} °C off target for more than {periodS} s (thermal runaway)",
  },
  "printer.thermal.silent": { nl: "{heater}: geen temperatuurmelding meer sinds {seconds} s", en: "{heater}: no temperature report for {seconds} s while heating" },
  "printer.channel.hotendTempC": { nl: "Temperatuur spuitmond", en: "Nozzle temperature" },
  "printer.channel.hotendTargetC": { nl: "Doel spuitmond", en: "Nozzle target" },
  "printer.channel.bedTempC": { nl: "Temperatuur printbed", en: "Bed temperature" },
  "printer.channel.bedTargetC": { nl: "Doel printbed", en: "Bed target" },
  "printer.channel.progressPct": { nl: "Voortgang", en: "Progress" },
  "printer.channel.doorOpen": { nl: "Deur printer open", en: "Printer door open" },
  "printer.rule.firmware.name": { nl: "{printer}: firmware gestopt", en: "{printer}: firmware halted" },
  "printer.rule.firmware.reason": { nl: "{printer} is door zijn eigen firmware gestopt", en: "{printer} was stopped by its own firmware" },
  "printer.rule.firmware.kiosk": { nl: "De printer merkte zelf dat er iets mis was en is veilig gestopt.", en: "The printer noticed something was wrong and stopped safely by itself." },
  "printer.rule.thermal.name": { nl: "{printer}: temperatuurbewaking", en: "{printer}: thermal watchdog" },
  "printer.rule.thermal.reason": { nl: "De hub heeft {printer} gestopt: de temperatuur gedroeg zich niet zoals verwacht", en: "The hub stopped {printer}: its temperature did not behave as expected" },
  "printer.rule.thermal.kiosk": { nl: "De printer werd niet goed warm of te warm. De hub heeft hem meteen uitgezet.", en: "The printer did not heat up properly. The hub switched it off at once." },
  "printer.rule.lost.name": { nl: "{printer}: verbinding weg tijdens het printen", en: "{printer}: connection lost while printing" },
  "printer.rule.lost.reason": { nl: "{printer} was niet meer bereikbaar tijdens een print: de print is afgebroken", en: "{printer} could not be reached during a print: the print was aborted" },
  "printer.rule.lost.kiosk": { nl: "De hub verloor de verbinding met de printer tijdens het printen. De print is gestopt.", en: "The hub lost its connection to the printer during a print. The print stopped." },
  "printer.rule.lost.resetEffect": { nl: "De storing van de printer wordt gewist; er start niets.", en: "The printer's fault is cleared; nothing starts." },
  "printer.rule.door.name": { nl: "{printer}: deur open", en: "{printer}: door open" },
  "printer.rule.door.reason": { nl: "De deur van {printer} staat open", en: "The door of {printer} is open" },
  "printer.rule.door.kiosk": { nl: "De deur van de printer staat open. Dicht doen, dan kan hij verder.", en: "The printer's door is open. Close it and it can carry on." },
  "printer.rule.reconnects": {
    nl: "De hub verbindt opnieuw met de printer, waardoor zijn firmware herstart (verwarming uit, niets beweegt); er start niets. Stopt de printer weer, dan is de oorzaak er nog.",
    en: "The hub reconnects to the printer, which restarts its firmware (heaters off, nothing moves); nothing starts. If the printer halts again, the cause is still there.",
  },

  // Actuators and the installation.
  "actuator.visitEnded": { nl: "Het bezoek is afgelopen.", en: "The visit ended." },
  "actuator.noLongerHeld": { nl: "De hub houdt hem niet meer aan.", en: "The hub no longer holds it." },
  "actuator.unreachable": { nl: "{device} is niet bereikbaar.", en: "{device} cannot be reached." },
  "actuator.notDeclared": { nl: "{device} heeft {actuator} (nog) niet gemeld.", en: "{device} has not declared {actuator} (yet)." },
} as const satisfies Record<string, { nl: string; en: string }>;

export type HubTextKey = keyof typeof HUB_STRINGS;

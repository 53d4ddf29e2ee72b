// The TEC board core: everything a board's firmware needs from firmware-bridge/PROTOCOL.md, in
// plain C++ (no Arduino headers, no heap), for the ATmega328P, the ESP32 and host tests alike.
//
//   tec_flash.h         flash strings and tables (PROGMEM on AVR)
//   tec_line.h          the serial line codec: checksum, fields, percent-encoding, numbers
//   tec_safety.h        leases, the hub heartbeat watch, command validation (every carrier)
//   tec_serial_board.h  the serial carrier: handshake, META, TELE/HEALTH/ACK/EVENT lines
#ifndef TEC_PROTOCOL_H
#define TEC_PROTOCOL_H

#include "tec_flash.h"
#include "tec_line.h"
#include "tec_safety.h"
#include "tec_serial_board.h"

#endif

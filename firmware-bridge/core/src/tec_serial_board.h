// The board side of the serial carrier (PROTOCOL.md, "Serial framing"): HELLO/META on start and
// on WHO, HELLO every 2 s until WELCOME, BEAT -> heartbeat, CMD -> Safety -> ACK, and TELE,
// HEALTH and EVENT lines for the board code. The safety rules themselves live in Safety, which
// the MQTT firmware shares.
#ifndef TEC_SERIAL_BOARD_H
#define TEC_SERIAL_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "tec_flash.h"
#include "tec_line.h"
#include "tec_safety.h"

namespace tec {

const uint8_t kProtocolVersion = 1;
/** PROTOCOL.md: "repeats HELLO every 2 s until it gets WELCOME". */
const uint32_t kHelloRepeatMs = 2000;
/** A reading the board could not take this time: left out of the TELE line. */
const Milli kNoReading = INT32_MIN;

/** One measured channel, declared TEC_PROGMEM by the board; strings are flash strings. */
struct ChannelSpec {
  const char* name;
  const char* unit;   // "" for none
  const char* label;  // may be nullptr
  Milli min;
  Milli max;
  uint32_t periodMs;
};

struct BoardInfo {
  FlashStr model;
  FlashStr firmware;
  const ChannelSpec* channels;  // TEC_PROGMEM table
  uint8_t channelCount;
};

/** What came in that was not right: counted, shown in HEALTH, and otherwise ignored. */
struct RxCounters {
  uint16_t badLines;      // checksum, framing, overlong, garbage, missing seq, CMD without id
  uint16_t unknownTypes;  // a well-formed line of a type the board does not know
  uint16_t seqGaps;       // the hub's seq skipped or repeated
};

typedef void (*WriteFn)(void* ctx, const char* data, size_t len);

class SerialBoard {
 public:
  SerialBoard(const BoardInfo& info, Safety& safety, WriteFn write, void* writeCtx);

  /** Every actuator safe, then HELLO and the META lines. `boot` is the non-volatile counter. */
  void begin(uint32_t now, uint32_t boot);
  /** One received byte. */
  void feed(char c, uint32_t now);
  /** Leases, the heartbeat watch and the HELLO repeat. Call every loop. */
  void poll(uint32_t now);

  /** `TELE ts=<now> <channel>=<value>…`, one reading per channel (kNoReading leaves it out).
   *  Only once welcomed: before that the hub has not accepted the board. */
  bool tele(uint32_t now, const Milli* readings);
  /** `HEALTH state= up= boot= [heap=] [detail=]`; heapB < 0 leaves heap out. Without a detail of
   *  the board's own (detail.p == nullptr), receive errors (if any) are reported as the detail. */
  bool health(uint32_t now, FlashStr state, int32_t heapB, FlashStr detail);
  bool event(FlashStr type, FlashStr detail);

  bool welcomed() const { return safety_.welcomed(); }
  const RxCounters& counters() const { return counters_; }
  uint32_t txSeq() const { return seq_; }

 private:
  bool send();
  void sendHello(uint32_t now);
  void sendMeta();
  void handle(const Line& line, uint32_t now);
  void onCommand(const Line& line, uint32_t now);
  static void onActuatorSafe(void* ctx, uint8_t index, SafeReason why);
  static void onHubLost(void* ctx);

  BoardInfo info_;
  Safety& safety_;
  WriteFn write_;
  void* writeCtx_;
  LineReader reader_;
  LineWriter writer_;
  RxCounters counters_;
  uint32_t seq_;
  uint32_t boot_;
  uint32_t lastHelloMs_;
  uint32_t lastRxSeq_;
  bool rxSeqKnown_;
  bool helloRepeat_;
};

}  // namespace tec

#endif

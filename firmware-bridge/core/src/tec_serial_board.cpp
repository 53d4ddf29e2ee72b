#include "tec_serial_board.h"

namespace tec {

SerialBoard::SerialBoard(const BoardInfo& info, Safety& safety, WriteFn write, void* writeCtx)
    : info_(info),
      safety_(safety),
      write_(write),
      writeCtx_(writeCtx),
      reader_(),
      writer_(),
      counters_(),
      seq_(0),
      boot_(0),
      lastHelloMs_(0),
      lastRxSeq_(0),
      rxSeqKnown_(false),
      helloRepeat_(true) {}

bool SerialBoard::send() {
  if (!writer_.finish()) return false;  // too long: dropped whole, seq not spent
  write_(writeCtx_, writer_.data(), writer_.size());
  seq_++;
  return true;
}

void SerialBoard::begin(uint32_t now, uint32_t boot) {
  boot_ = boot;
  seq_ = 0;  // PROTOCOL.md: seq counts from 0 after each (re)start
  SafetyListener l;
  l.actuatorSafe = &SerialBoard::onActuatorSafe;
  l.hubLost = &SerialBoard::onHubLost;
  l.ctx = this;
  safety_.setListener(l);
  safety_.begin();
  reader_.clear();
  helloRepeat_ = true;
  // A bare newline first: it ends whatever half line the hub holds from before a reset (a TELE cut
  // off by the watchdog would otherwise swallow this HELLO). Receivers ignore empty lines.
  write_(writeCtx_, "\n", 1);
  sendHello(now);
  sendMeta();
}

void SerialBoard::sendHello(uint32_t now) {
  lastHelloMs_ = now;
  writer_.begin(TEC_F("HELLO"), seq_);
  writer_.u32(TEC_F("proto"), kProtocolVersion)
      .text(TEC_F("model"), info_.model)
      .text(TEC_F("fw"), info_.firmware)
      .u32(TEC_F("boot"), boot_);
  send();
}

void SerialBoard::sendMeta() {
  for (uint8_t i = 0; i < info_.channelCount; i++) {
    ChannelSpec c;
    flashCopy(&c, &info_.channels[i], sizeof c);
    writer_.begin(TEC_F("META"), seq_);
    writer_.text(TEC_F("ch"), FlashStr{c.name})
        .text(TEC_F("unit"), FlashStr{c.unit})
        .fixed(TEC_F("min"), c.min)
        .fixed(TEC_F("max"), c.max)
        .u32(TEC_F("period"), c.periodMs);
    if (c.label != nullptr) writer_.text(TEC_F("label"), FlashStr{c.label});
    send();
  }
  for (uint8_t i = 0; i < safety_.count(); i++) {
    ActuatorSpec a = safety_.spec(i);
    writer_.begin(TEC_F("META"), seq_);
    writer_.text(TEC_F("act"), FlashStr{a.name})
        .fixed(TEC_F("safe"), a.safe)
        .u32(TEC_F("lease"), a.leaseMs)
        .fixed(TEC_F("min"), a.min)
        .fixed(TEC_F("max"), a.max);
    if (a.label != nullptr) writer_.text(TEC_F("label"), FlashStr{a.label});
    send();
  }
  // PROTOCOL.md writes a bare `end`; the hub's codec (firmware-bridge/serial/codec.ts) takes only
  // key=value fields and looks for the key, so `end=1` is what both read.
  writer_.begin(TEC_F("META"), seq_);
  writer_.u32(TEC_F("end"), 1).u32(TEC_F("ch"), info_.channelCount).u32(TEC_F("act"), safety_.count());
  send();
}

void SerialBoard::feed(char c, uint32_t now) {
  LineReader::Result r = reader_.feed(c);
  if (r == LineReader::Result::Line) {
    handle(reader_.line(), now);
  } else if (r == LineReader::Result::Error && reader_.error() != ParseError::Empty) {
    counters_.badLines++;  // PROTOCOL.md: refused and counted; nothing else happens
  }
}

void SerialBoard::handle(const Line& line, uint32_t now) {
  if (rxSeqKnown_ && line.seq != lastRxSeq_ + 1) counters_.seqGaps++;
  rxSeqKnown_ = true;
  lastRxSeq_ = line.seq;

  if (line.isType(TEC_F("BEAT"))) {
    safety_.beat(now);
  } else if (line.isType(TEC_F("CMD"))) {
    onCommand(line, now);
  } else if (line.isType(TEC_F("WELCOME"))) {
    uint32_t proto = 0;
    if (!parseUint(line.get(TEC_F("proto")), &proto) || proto != kProtocolVersion) {
      counters_.badLines++;  // a welcome to another protocol is no welcome
      return;
    }
    helloRepeat_ = false;
    safety_.welcome(now);
  } else if (line.isType(TEC_F("REFUSE"))) {
    helloRepeat_ = false;  // stay quiet and safe; a WHO starts over
    safety_.refuse();
  } else if (line.isType(TEC_F("WHO"))) {
    if (!safety_.welcomed()) helloRepeat_ = true;
    sendHello(now);
    sendMeta();
  } else {
    counters_.unknownTypes++;
  }
}

void SerialBoard::onCommand(const Line& line, uint32_t now) {
  const char* id = line.get(TEC_F("id"));
  if (id == nullptr || *id == '\0') {
    counters_.badLines++;  // an ACK without the id would answer nothing
    return;
  }
  CmdError e = safety_.command(now, line.get(TEC_F("act")), line.get(TEC_F("value")), line.get(TEC_F("lease")));
  writer_.begin(TEC_F("ACK"), seq_);
  writer_.text(TEC_F("id"), id).u32(TEC_F("ok"), e == CmdError::None ? 1 : 0);
  if (e != CmdError::None) writer_.text(TEC_F("err"), cmdErrorName(e));
  send();
}

void SerialBoard::poll(uint32_t now) {
  safety_.poll(now);
  if (helloRepeat_ && !safety_.welcomed() && now - lastHelloMs_ >= kHelloRepeatMs) sendHello(now);
}

bool SerialBoard::tele(uint32_t now, const Milli* readings) {
  if (!safety_.welcomed()) return false;
  writer_.begin(TEC_F("TELE"), seq_);
  writer_.u32(TEC_F("ts"), now);
  for (uint8_t i = 0; i < info_.channelCount; i++) {
    if (readings[i] == kNoReading) continue;
    ChannelSpec c;
    flashCopy(&c, &info_.channels[i], sizeof c);
    writer_.fixed(FlashStr{c.name}, readings[i]);
  }
  return send();
}

bool SerialBoard::health(uint32_t now, FlashStr state, int32_t heapB, FlashStr detail) {
  if (!safety_.welcomed()) return false;
  writer_.begin(TEC_F("HEALTH"), seq_);
  writer_.text(TEC_F("state"), state).u32(TEC_F("up"), now / 1000).u32(TEC_F("boot"), boot_);
  if (heapB >= 0) writer_.i32(TEC_F("heap"), heapB);
  if (detail.p != nullptr) {
    writer_.text(TEC_F("detail"), detail);
  } else if (counters_.badLines != 0 || counters_.unknownTypes != 0 || counters_.seqGaps != 0) {
    // "rx-bad:2,unknown:0,gaps:1" without a sprintf (a kilobyte and more on the AVR).
    writer_.text(TEC_F("detail"), TEC_F("rx-bad:")).moreU32(counters_.badLines);
    writer_.more(TEC_F(",unknown:")).moreU32(counters_.unknownTypes);
    writer_.more(TEC_F(",gaps:")).moreU32(counters_.seqGaps);
  }
  return send();
}

bool SerialBoard::event(FlashStr type, FlashStr detail) {
  writer_.begin(TEC_F("EVENT"), seq_);
  writer_.text(TEC_F("type"), type);
  if (detail.p != nullptr) writer_.text(TEC_F("detail"), detail);
  return send();
}

void SerialBoard::onActuatorSafe(void* ctx, uint8_t index, SafeReason why) {
  SerialBoard* self = static_cast<SerialBoard*>(ctx);
  ActuatorSpec a = self->safety_.spec(index);
  // PROTOCOL.md's example: `EVENT type=actuator-safe detail=pumpEnable:lease`
  self->writer_.begin(TEC_F("EVENT"), self->seq_);
  self->writer_.text(TEC_F("type"), TEC_F("actuator-safe"))
      .text(TEC_F("detail"), FlashStr{a.name})
      .more(TEC_F(":"))
      .more(safeReasonName(why));
  self->send();
}

void SerialBoard::onHubLost(void* ctx) {
  SerialBoard* self = static_cast<SerialBoard*>(ctx);
  self->event(TEC_F("hub-lost"), FlashStr{nullptr});
}

}  // namespace tec

// Copy to config.h (git-ignored: it holds passwords) and fill in. The device id and password are
// the ones the hub's config gives this device (kind "mqtt"); the broker only lets it publish under
// tec/<site>/<device>/ (PROTOCOL.md, "Topics").
#pragma once

#define TEC_WIFI_SSID "tec-iot"
#define TEC_WIFI_PASSWORD "change-me"
#define TEC_MQTT_HOST "192.168.1.10"  // the hub's embedded broker
#define TEC_MQTT_PORT 1883
#define TEC_SITE "tec-deventer"
#define TEC_DEVICE "tiny-house-water"
#define TEC_DEVICE_PASSWORD "change-me"

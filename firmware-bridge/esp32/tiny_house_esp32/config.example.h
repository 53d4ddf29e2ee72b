// Copy to config.h (git-ignored: it holds passwords) and fill in, or let the hub write it for a new
// device: `tec-hub add-device --kind mqtt --id <id>` prints this file filled in (a fresh secret, the
// broker's TLS port and CA) and the block for the hub's config. The device id and password are the
// ones the hub's config gives this device (kind "mqtt"); the broker only lets it publish under
// tec/<site>/<device>/ (PROTOCOL.md, "Topics").
#pragma once

#define TEC_WIFI_SSID "tec-iot"
#define TEC_WIFI_PASSWORD "change-me"
#define TEC_MQTT_HOST "192.168.1.10"  // the hub's embedded broker; with TLS a name its certificate names
#define TEC_MQTT_PORT 1883             // 8883 with TLS (then TEC_MQTT_CA is required)
#define TEC_SITE "tec-deventer"
#define TEC_DEVICE "tiny-house-water"
#define TEC_DEVICE_PASSWORD "change-me"

/* MQTT over TLS: the CA the broker's certificate must chain to, as a C string, one quoted line per
   PEM line (the hub's self-made CA is <data folder>/tls/ca.crt). With it the board checks the
   broker's certificate and its name (TEC_MQTT_HOST); there is no way to turn the check off.

  #define TEC_MQTT_CA \
    "-----BEGIN CERTIFICATE-----\n" \
    "MIIBhTCCASugAwIBAgIU...\n" \
    "-----END CERTIFICATE-----\n"
*/

// Why this shim exists: a system-library target needs one header to give the
// Swift importer; it pulls in libmosquitto's client API (mosquitto.h) and the
// MQTT v5 property and reason-code definitions as installed by Debian's
// libmosquitto-dev, and eventfd (the network thread's wake-up). Only the KognitaMQTT wrapper imports CMosquitto.
#ifndef KOGNITA_CMOSQUITTO_SHIM_H
#define KOGNITA_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/eventfd.h>  // the network thread's wake-up
#endif

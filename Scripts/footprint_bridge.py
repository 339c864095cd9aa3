#!/usr/bin/env python3
"""A minimal bridge for footprint runs: acks every batch `final`, so the agent's
spool drains as it would against the network. Built from the contract alone
(cbor2 + hashlib), no Kognita code. Usage: footprint_bridge.py PORT"""
import hashlib, sys
import cbor2
import paho.mqtt.client as mqtt

port = int(sys.argv[1])
acked = 0

def on_connect(client, userdata, flags, reason, properties):
    client.subscribe("kognita/+/+/batch", qos=1)

def on_message(client, userdata, message):
    global acked
    envelope = cbor2.loads(message.payload)            # tag 18 [protected, unprotected, payload, signature]
    payload = envelope.value[2]
    batch = cbor2.loads(payload)
    ack = cbor2.dumps({0: hashlib.blake2b(payload, digest_size=32).digest(), 1: batch[2], 2: 1})
    client.publish(message.topic.rsplit("/", 1)[0] + "/ack", ack, qos=1)
    acked += 1

client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="footprint-bridge", protocol=mqtt.MQTTv5)
client.on_connect = on_connect
client.on_message = on_message
client.connect("127.0.0.1", port)
client.loop_forever()

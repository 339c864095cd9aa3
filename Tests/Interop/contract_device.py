#!/usr/bin/env python3
"""A device built from the contract alone (PROTOCOL.md): pynacl for Ed25519,
cbor2 for CBOR, hashlib for BLAKE2b, paho-mqtt for MQTT v5. It shares no code
with Kognita.

Usage:
    contract_device.py --port PORT --network NET --seed HEX64 --recipient HEX64

The device's account must be funded. It plays these scenarios against a live
bridge and prints one JSON object: for each scenario, the acks it received
({"status": n, "reason": n, "has_cert": bool, "seq": n}).

  sync          empty payload on .../sync             -> a head ack (status 3)
  valid         seq 1, signed correctly                -> accepted (0), then final (1)
  resend        the same bytes again                   -> final again
  bad_signature a flipped signature byte               -> rejected (2), reason 2
  not_authorized signed by another key, on our topic   -> rejected, reason 7
  wrong_network  seq 2 for another network              -> rejected, reason 3
  too_large      a 70,000-byte payload                  -> rejected, reason 8
"""

import argparse
import hashlib
import json
import queue
import sys
import time

import cbor2
import nacl.signing
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

PROTECTED = bytes.fromhex("a10127")  # {1: -8}


def batch_payload(network, seq, prev, recipient, amount):
    # Keys 0-23 in ascending order: cbor2 keeps insertion order, which is then the deterministic order.
    return cbor2.dumps({
        0: 1, 1: network, 2: seq, 3: prev, 4: int(time.time() * 1000), 5: 0,
        6: [{0: recipient, 1: amount, 2: "meter-py", 3: 1500}],
    })


def sign(key, payload, kid=None):
    kid = kid if kid is not None else bytes(key.verify_key)
    to_be_signed = cbor2.dumps(["Signature1", PROTECTED, b"", payload])
    signature = key.sign(to_be_signed).signature
    return cbor2.dumps(cbor2.CBORTag(18, [PROTECTED, {4: kid}, payload, signature]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--validators", default="", help="comma-separated validator keys (hex), all weight 1: check the certificate")
    args = parser.parse_args()

    key = nacl.signing.SigningKey(bytes.fromhex(args.seed))
    device = bytes(key.verify_key).hex()
    recipient = bytes.fromhex(args.recipient)
    base = f"kognita/{args.network}/{device}"
    acks = queue.Queue()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"py-{device[:16]}", protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: acks.put(cbor2.loads(m.payload))
    subscribed = queue.Queue()
    client.on_subscribe = lambda c, u, mid, codes, props: subscribed.put(codes)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 300
    client.connect("127.0.0.1", args.port, keepalive=30, clean_start=True, properties=properties)
    client.loop_start()
    client.subscribe(f"{base}/ack", qos=1)
    subscribed.get(timeout=10)

    def exchange(topic, payload, until, timeout=20):
        """Publishes and collects acks until `until(acks)` holds."""
        while not acks.empty():
            acks.get_nowait()
        client.publish(topic, payload, qos=1).wait_for_publish(10)
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline and not until(got):
            try:
                got.append(acks.get(timeout=0.2))
            except queue.Empty:
                pass
        return [{"status": a.get(2), "reason": a.get(3), "has_cert": 6 in a, "seq": a.get(1),
                 "id": a[0].hex() if 0 in a else None, "head_next": a.get(5, {}).get(0),
                 "cert": a[6].hex() if 6 in a else None} for a in got]

    decided = lambda got: any(a.get(2) in (1, 2) for a in got)
    results = {"device": device}
    results["sync"] = exchange(f"{base}/sync", b"", lambda got: any(a.get(2) == 3 for a in got))

    payload = batch_payload(args.network, 1, bytes(32), recipient, 25)
    valid = sign(key, payload)
    results["valid_id"] = hashlib.blake2b(payload, digest_size=32).hexdigest()
    results["valid"] = exchange(f"{base}/batch", valid, decided)
    results["resend"] = exchange(f"{base}/batch", valid, decided)

    first_id = hashlib.blake2b(payload, digest_size=32).digest()
    forged = bytearray(sign(key, batch_payload(args.network, 2, first_id, recipient, 5)))
    forged[-1] ^= 0x01
    results["bad_signature"] = exchange(f"{base}/batch", bytes(forged), decided)

    other = nacl.signing.SigningKey.generate()
    results["not_authorized"] = exchange(f"{base}/batch", sign(other, batch_payload(args.network, 1, bytes(32), recipient, 5)), decided)

    results["wrong_network"] = exchange(f"{base}/batch", sign(key, batch_payload("some-other-net", 2, first_id, recipient, 5)), decided)

    big = cbor2.dumps({0: 1, 1: args.network, 2: 2, 3: first_id, 4: 0, 5: 0, 6: [{0: recipient, 1: 1, 2: "x" * 70000}]})
    results["too_large"] = exchange(f"{base}/batch", sign(key, big), decided)

    if args.validators:
        final = next((a for a in results["valid"] if a["status"] == 1 and a["cert"]), None)
        results["cert_valid"] = final is not None and check_certificate(
            bytes.fromhex(final["cert"]), bytes.fromhex(results["valid_id"]), bytes.fromhex(device), args.network,
            [bytes.fromhex(v) for v in args.validators.split(",")])

    client.loop_stop()
    client.disconnect()
    print(json.dumps(results))


def blake(*parts):
    return hashlib.blake2b(b"".join(parts), digest_size=32).digest()


def merkle_root(leaf, index, count, path):
    """RFC 9162 inclusion proof with BLAKE2b-256 (0x00 leaf, 0x01 node prefixes)."""
    if index >= count:
        return None
    fn, sn, node = index, count - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            node = blake(b"\x01", sibling, node)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = blake(b"\x01", node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def check_certificate(cert_bytes, batch_id, account, network, validators):
    """Checks a certificate from the bytes PROTOCOL.md describes, against equal-weight validators."""
    cert = cbor2.loads(cert_bytes)
    if cert.get(0) != batch_id or cert.get(1) != network or cert.get(4) != account:
        return False
    leaf = blake(b"\x00", account, batch_id)
    seen = set()
    for validator, count, index, path, signature in cert[3]:
        if validator not in validators or validator in seen:
            return False
        root = merkle_root(leaf, index, count, path)
        if root is None:
            return False
        statement = cbor2.dumps(["kognita-vote-v1", network, cert[2], root, count])
        try:
            nacl.signing.VerifyKey(validator).verify(statement, signature)
        except Exception:
            return False
        seen.add(validator)
    return 3 * len(seen) > 2 * len(validators)


if __name__ == "__main__":
    sys.exit(main())

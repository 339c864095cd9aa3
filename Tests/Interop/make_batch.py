#!/usr/bin/env python3
"""Build and sign one Kognita v1 batch, independently of the Swift code.

Usage:
    make_batch.py --seed HEX64 --network NET --seq N [--prev HEX64] [--fee F]
                  [--created MS] --to HEX64:AMOUNT[:SENSOR[:READING]] [--to ...]
                  --out FILE

  --seed     32-byte Ed25519 seed (libsodium crypto_sign_seed_keypair), 64 hex chars
  --prev     id of the batch at seq-1 (default: 32 zero bytes)
  --fee      fee in base units (default 0)
  --created  device clock in ms since the Unix epoch (default: now)
  --to       one transfer; repeat for more. READING is an integer already in
             milli-units. SENSOR may be empty (HEX:AMOUNT::READING gives a
             reading without a sensor); it may contain ':' only when a READING
             follows, since the last ':' separates the reading.

Writes the COSE_Sign1_Tagged bytes to FILE and prints {"id": hex, "signer": hex}.

The payload is encoded with cbor2 from dicts built in ascending key order (all
keys are 0-23, so that is the deterministic order) and signed with pycose
(Sign1Message, protected {1: -8}, unprotected {4: kid}).

Content rules (amount >= 1, network syntax, seq/prev, limits) are deliberately
NOT enforced, so the script can also produce batches a receiver must reject.
Only what plain CBOR integers can carry is enforced: uint fields 0..2^64-1,
reading -2^64..2^64-1 (cbor2 would otherwise silently emit a bignum tag).
"""

import argparse
import hashlib
import json
import sys
import time

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.messages import Sign1Message

UINT64_MAX = 2**64 - 1
PROTECTED_EDDSA = bytes.fromhex("a10127")


def hex32(text):
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not hex: {text!r}") from None
    if len(value) != 32:
        raise argparse.ArgumentTypeError(f"expected 32 bytes (64 hex characters), got {len(value)}")
    return value


def uint64(text):
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= UINT64_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..2^64-1")
    return value


def transfer_spec(text):
    """HEX64:AMOUNT[:SENSOR[:READING]] -> transfer map (ascending keys)."""
    parts = text.split(":", 2)
    if len(parts) < 2:
        raise argparse.ArgumentTypeError(f"expected HEX64:AMOUNT[:SENSOR[:READING]], got {text!r}")
    t = {0: hex32(parts[0]), 1: uint64(parts[1])}
    if len(parts) == 3:
        sensor, reading = parts[2], None
        if ":" in sensor:
            sensor, reading_text = sensor.rsplit(":", 1)
            try:
                reading = int(reading_text, 10)
            except ValueError:
                raise argparse.ArgumentTypeError(f"reading is not an integer: {reading_text!r}") from None
            if not -2**64 <= reading <= UINT64_MAX:
                raise argparse.ArgumentTypeError(f"reading {reading} does not fit a CBOR integer")
        if sensor:
            t[2] = sensor
        if reading is not None:
            t[3] = reading
    return t


def expected_encoding(kid, payload, signature):
    """The contract's exact COSE_Sign1_Tagged layout, for checking pycose."""
    def bstr(b):
        return cbor2.dumps(bytes(b))
    return (bytes.fromhex("d284") + bstr(PROTECTED_EDDSA) + bytes.fromhex("a104") + bstr(kid)
            + bstr(payload) + bstr(signature))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=hex32, required=True)
    ap.add_argument("--network", required=True)
    ap.add_argument("--seq", type=uint64, required=True)
    ap.add_argument("--prev", type=hex32, default=bytes(32))
    ap.add_argument("--fee", type=uint64, default=0)
    ap.add_argument("--created", type=uint64, default=None)
    ap.add_argument("--to", type=transfer_spec, action="append", required=True, dest="transfers")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv[1:])

    created = args.created if args.created is not None else time.time_ns() // 1_000_000
    batch = {0: 1, 1: args.network, 2: args.seq, 3: args.prev, 4: created, 5: args.fee, 6: args.transfers}
    payload = cbor2.dumps(batch)

    # pycose does not derive the public key from 'd', so compute it here.
    kid = Ed25519PrivateKey.from_private_bytes(args.seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    msg = Sign1Message(phdr={Algorithm: EdDSA}, uhdr={KID: kid}, payload=payload,
                       key=OKPKey(crv="Ed25519", d=args.seed))
    cose = msg.encode()     # tag=True, sign=True

    # pycose 1.1.0 produces exactly the contract's bytes (checked when this was
    # written); should a future version reorder or re-encode anything, rebuild
    # the envelope around its signature rather than emit non-contract bytes.
    decoded = cbor2.loads(cose)
    signature = decoded.value[3]
    expected = expected_encoding(kid, payload, signature)
    if not cose.startswith(bytes.fromhex("d28443a10127")) or decoded.value[1] != {4: kid} or cose != expected:
        print("make_batch: pycose encoding deviates from the contract; rebuilding the envelope", file=sys.stderr)
        cose = expected

    with open(args.out, "wb") as f:
        f.write(cose)
    print(json.dumps({"id": hashlib.blake2b(payload, digest_size=32).hexdigest(), "signer": kid.hex()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Generate the Kognita v1 batch test vectors (COSE_Sign1 signed batches).

Usage:
    generate_batch_vectors.py [OUT]      (default: Tests/Vectors/batch-vectors.json)

Written from the wire contract alone (/work/shared/PROTOCOL.md), independently
of the Swift implementation, so the two can be checked against each other.

Deterministic: fixed seeds, fixed timestamps, Ed25519 is deterministic, and the
JSON is written with a fixed key order, so every run produces the same bytes.

Valid payloads are encoded with cbor2 (dicts built in ascending key order; the
contract's keys are all 0-23, so insertion order is the deterministic order)
and cross-checked against the tiny byte-level encoder below, which is also what
crafts the invalid encodings cbor2 refuses to produce.

Self-checks (the script raises instead of writing a bad file):
  * valid vectors verify with pycose (key built from the kid) and their id is
    BLAKE2b-256 of the payload;
  * every vector, valid or not, is classified by the independent strict checker
    in Tests/Interop/verify_with_pycose.py exactly as the vector says;
  * invalid vectors whose defect is inside the payload (or anywhere but the
    signature) carry a signature that really verifies over the received
    protected header and payload, so only the intended defect can reject them.
"""

import hashlib
import json
import os
import sys

import cbor2
import nacl.signing
from nacl.exceptions import BadSignatureError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True          # keep the source tree clean
sys.path.insert(0, os.path.join(REPO, "Tests", "Interop"))
import verify_with_pycose as ref  # noqa: E402  (strict reference checker)

DEFAULT_OUT = os.path.join(REPO, "Tests", "Vectors", "batch-vectors.json")

NET = "kognita-devnet"
NET32 = "kognita-devnet-0123456789-abcdef"       # exactly 32 characters
assert len(NET32) == 32

T0 = 1767225600000           # 2026-01-01T00:00:00Z in milliseconds
ZERO32 = bytes(32)
UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1

PROTECTED_EDDSA = bytes.fromhex("a10127")      # {1: -8}
PROTECTED_ED25519 = bytes.fromhex("a10132")    # {1: -19}


# --------------------------------------------------------------------------
# Keys (fixed seeds derived from labels so they are easy to reproduce)
# --------------------------------------------------------------------------

def signing_key(label):
    return nacl.signing.SigningKey(hashlib.sha256(b"kognita-test-vectors/" + label.encode()).digest())


def public(sk):
    return sk.verify_key.encode()


DEVICE = signing_key("device-a")
OTHER = signing_key("device-b")
METER = signing_key("meter-1")
ALICE = public(signing_key("recipient-alice"))
BOB = public(signing_key("recipient-bob"))
GRID = public(signing_key("recipient-grid-operator"))


# --------------------------------------------------------------------------
# Byte-level CBOR encoder (deterministic unless told otherwise via Raw/Map)
# --------------------------------------------------------------------------

class Raw:
    """Bytes spliced verbatim into the encoding (for crafted defects)."""

    def __init__(self, data):
        self.data = bytes(data)


class Map:
    """A map written with exactly these (key, value) pairs in this order."""

    def __init__(self, pairs):
        self.pairs = list(pairs)


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def head(major, n):
    """Initial byte(s) in the shortest form."""
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError("argument too large for CBOR")


def head_wide(major, n, size):
    """Initial byte(s) with a forced argument width (non-shortest on purpose)."""
    ai = {1: 24, 2: 25, 4: 26, 8: 27}[size]
    return bytes([major << 5 | ai]) + n.to_bytes(size, "big")


def enc(v):
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, bool) or v is None:
        return {False: b"\xf4", True: b"\xf5", None: b"\xf6"}[v]
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode("utf-8")
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        return enc(Map(v.items()))
    if isinstance(v, Map):
        return head(5, len(v.pairs)) + b"".join(enc(k) + enc(x) for k, x in v.pairs)
    if isinstance(v, Tag):
        return head(6, v.tag) + enc(v.value)
    raise TypeError(type(v))


# --------------------------------------------------------------------------
# Batches and envelopes
# --------------------------------------------------------------------------

def transfer(to, amount, sensor=None, reading=None, at=None):
    t = {0: to, 1: amount}
    if sensor is not None:
        t[2] = sensor
    if reading is not None:
        t[3] = reading
    if at is not None:
        t[4] = at
    return t


def batch(transfers, seq=1, prev=ZERO32, created=T0, fee=0, network=NET, version=1):
    return {0: version, 1: network, 2: seq, 3: prev, 4: created, 5: fee, 6: transfers}


def encode_payload(b):
    """Encode a (possibly crafted) batch; plain ones must match cbor2 exactly."""
    ours = enc(b)
    try:
        theirs = cbor2.dumps(b)
    except Exception:       # Raw/Map/Tag helpers: crafted, cbor2 cannot express
        theirs = None
    if theirs is not None and theirs != ours:
        raise AssertionError("byte-level encoder disagrees with cbor2")
    return ours


def sig_structure(protected, payload, aad=b"", context="Signature1"):
    return enc([context, protected, aad, payload])


def sign(sk, msg):
    return sk.sign(msg).signature


def envelope(protected, unprotected, payload, signature, tag=True):
    body = enc([protected, unprotected, payload, signature])
    return head(6, 18) + body if tag else body


def signed(payload, sk=DEVICE, protected=PROTECTED_EDDSA):
    """A correct COSE_Sign1_Tagged over `payload` (bytes)."""
    sig = sign(sk, sig_structure(protected, payload))
    return envelope(protected, {4: public(sk)}, payload, sig)


def minimal_batch(**kw):
    return batch([transfer(ALICE, 1000)], **kw)


# --------------------------------------------------------------------------
# Vector collection
# --------------------------------------------------------------------------

VECTORS = []
# name -> True when the signature must verify over the received protected
# header and payload (everything except deliberate bad-signature cases)
_SIGNED_OK = {}


def add_valid(name, description, b, sk=DEVICE, protected=PROTECTED_EDDSA, expect=NET):
    payload = encode_payload(b)
    cose = signed(payload, sk, protected)
    VECTORS.append({
        "name": name,
        "description": description,
        "cose": cose.hex(),
        "expect_network": expect,
        "valid": True,
        "id": hashlib.blake2b(payload, digest_size=32).hexdigest(),
        "signer": public(sk).hex(),
        "payload": payload.hex(),
        "batch": batch_json(b),
    })
    _SIGNED_OK[name] = True
    return payload


def add_invalid(name, description, cose, reason, expect=NET, signed_ok=True):
    VECTORS.append({
        "name": name,
        "description": description,
        "cose": cose.hex(),
        "expect_network": expect,
        "valid": False,
        "reason": reason,
    })
    _SIGNED_OK[name] = signed_ok


def add_bad_payload(name, description, b, reason="malformed", sk=DEVICE):
    """Invalid batch content, correctly signed: only the payload defect counts."""
    add_invalid(name, description, signed(encode_payload(b), sk), reason)


def batch_json(b):
    """The expected JSON shape of a plain (uncrafted) batch dict."""
    out = {"version": b[0], "network": b[1], "seq": b[2], "prev": b[3].hex(),
           "created": b[4], "fee": b[5], "transfers": []}
    for t in b[6]:
        j = {"to": t[0].hex(), "amount": t[1]}
        for key, name in ((2, "sensor"), (3, "reading"), (4, "at")):
            if key in t:
                j[name] = t[key]
        out["transfers"].append(j)
    return out


def sized_batch(total_bytes, network=NET):
    """A batch whose encoding is exactly `total_bytes` long.

    Transfers carry sensor strings of 24..64 bytes (so each sensor's length
    header is always 2 bytes and shortening a sensor by one byte shortens the
    payload by exactly one byte). Start with all sensors at 64 bytes, then trim
    the excess across transfers.
    """
    def make(sensor_lengths):
        return batch([transfer(GRID, 1, "s%03d-" % i + "x" * (n - 5)) for i, n in enumerate(sensor_lengths)],
                     network=network)

    count = max(1, total_bytes // 110)     # a little under the final count
    while len(enc(make([64] * count))) < total_bytes:
        count += 1
    lengths = [64] * count
    excess = len(enc(make(lengths))) - total_bytes
    for i in range(count):
        cut = min(excess, 64 - 24)
        lengths[i] -= cut
        excess -= cut
    b = make(lengths)
    assert len(enc(b)) == total_bytes, (len(enc(b)), total_bytes)
    return b


def build():
    # ------------------------------------------------------------ valid
    minimal = add_valid(
        "valid-minimal",
        "One transfer, seq 1, zero prev, fee 0, no optional transfer fields.",
        minimal_batch())
    add_valid(
        "valid-all-optional-fields",
        "Transfers with sensor, negative and positive readings and trigger times, and a fee.",
        batch([transfer(ALICE, 250, "thermo-1", -12500, T0 - 60000),
               transfer(BOB, 40, "humidity-2", 61250, T0 - 30000)], fee=5))
    add_valid(
        "valid-reading-int64-min",
        "A reading of -2^63, the smallest signed 64-bit value (CBOR 3b 7fff...ff).",
        batch([transfer(ALICE, 1, "probe", INT64_MIN, T0)]))
    add_valid(
        "valid-reading-int64-max",
        "A reading of 2^63-1, the largest signed 64-bit value.",
        batch([transfer(ALICE, 1, "probe", INT64_MAX, T0)]))
    add_valid(
        "valid-alg-ed25519",
        "Protected header {1: -19} (bytes a1 01 32, fully specified Ed25519, RFC 9864).",
        minimal_batch(), protected=PROTECTED_ED25519)
    add_valid(
        "valid-seq-2-chained",
        "Second batch of the account: seq 2 with prev = id of valid-minimal.",
        batch([transfer(BOB, 77)], seq=2, prev=hashlib.blake2b(minimal, digest_size=32).digest(),
              created=T0 + 60000))
    add_valid(
        "valid-1024-transfers",
        "Exactly the maximum of 1024 transfers.",
        batch([transfer(GRID, i + 1) for i in range(1024)]))
    payload_64k = add_valid(
        "valid-payload-65536-bytes",
        "A payload of exactly 65536 bytes, the size limit.",
        sized_batch(65536))
    assert len(payload_64k) == 65536
    add_valid(
        "valid-total-uint64-max",
        "Amounts plus fee sum to exactly 2^64-1 without overflowing.",
        batch([transfer(ALICE, 2**63), transfer(BOB, 2**63 - 1001)], fee=1000))
    add_valid(
        "valid-meter-64-transfers",
        "A typical meter batch: 64 transfers from sensor meter-1 with increasing readings and times.",
        batch([transfer(GRID, 120 + i % 7, "meter-1", 1523000 + 250 * i, T0 + 15000 * i) for i in range(64)],
              seq=41, prev=hashlib.blake2b(b"meter-1 batch 40", digest_size=32).digest(),
              created=T0 + 15000 * 64, fee=3),
        sk=METER)
    add_valid(
        "valid-network-32-chars",
        "A network id of exactly 32 characters.",
        minimal_batch(network=NET32), expect=NET32)
    add_valid(
        "valid-utf8-sensor",
        "A sensor string with multi-byte UTF-8 (2, 3 and 4-byte sequences).",
        batch([transfer(ALICE, 9, "Température-Küche-温度-🌡", 21375)]))
    add_valid(
        "valid-sensor-64-bytes-multibyte",
        "A sensor of exactly 64 bytes but only 22 characters (21 x U+20AC plus 'x').",
        batch([transfer(ALICE, 9, "€" * 21 + "x", 1)]))
    add_valid(
        "valid-sensor-64-bytes-ascii",
        "A sensor of exactly 64 ASCII bytes.",
        batch([transfer(ALICE, 9, "s" * 64)]))
    add_valid(
        "valid-integer-width-boundaries",
        "Amounts and readings on every CBOR integer width boundary (1, 2, 3, 5 and 9-byte heads).",
        batch([transfer(ALICE, a, reading=r) for a, r in (
            (23, -24), (24, -25), (255, -256), (256, -257), (65535, -65536),
            (65536, -65537), (2**32 - 1, -2**32), (2**32, -2**32 - 1))], fee=2**40))
    add_valid(
        "valid-optional-field-subsets",
        "Optional transfer fields in partial combinations: reading only, at only, sensor and at, reading 0.",
        batch([transfer(ALICE, 1, reading=-1), transfer(ALICE, 2, at=T0), transfer(BOB, 3, sensor="door", at=T0 + 1),
               transfer(BOB, 4, reading=0)]))
    add_valid(
        "valid-uint64-max-fields",
        "seq, created and at at 2^64-1: they are uint per the contract.",
        batch([transfer(ALICE, 1, at=UINT64_MAX)], seq=UINT64_MAX,
              prev=hashlib.blake2b(b"previous", digest_size=32).digest(), created=UINT64_MAX))

    # ------------------------------------------------------------ malformed: envelope
    good = signed(minimal)
    kid = public(DEVICE)
    sig = sign(DEVICE, sig_structure(PROTECTED_EDDSA, minimal))

    add_invalid("malformed-empty-input", "Zero bytes.", b"", "malformed", signed_ok=False)
    add_invalid("malformed-truncated", "valid-minimal without its last byte.", good[:-1], "malformed",
                signed_ok=False)
    add_invalid("malformed-trailing-byte", "valid-minimal followed by one extra byte (00).", good + b"\x00",
                "malformed")
    add_invalid("malformed-reserved-additional-info",
                "Tag 18 followed by initial byte 9c (array with reserved additional information 28).",
                head(6, 18) + b"\x9c" + good[2:], "malformed", signed_ok=False)
    add_invalid("malformed-missing-tag-18", "A correctly signed COSE_Sign1 array without the tag 18.",
                envelope(PROTECTED_EDDSA, {4: kid}, minimal, sig, tag=False), "malformed")
    add_invalid("malformed-wrong-tag-98", "The COSE_Sign1 array under tag 98 (COSE_Sign) instead of 18.",
                head(6, 98) + good[1:], "malformed")
    add_invalid("malformed-tag-18-non-shortest", "Tag 18 written as d8 12 instead of d2.",
                head_wide(6, 18, 1) + good[1:], "malformed")
    add_invalid("malformed-payload-nil", "Detached payload (null) instead of the batch bytes.",
                envelope(PROTECTED_EDDSA, {4: kid}, None, sig), "malformed", signed_ok=False)

    def resigned_protected(protected, unprotected=None):
        """Envelope with a given protected header, signed over exactly those bytes."""
        s = sign(DEVICE, sig_structure(protected, minimal))
        return envelope(protected, unprotected if unprotected is not None else {4: kid}, minimal, s)

    add_invalid("malformed-protected-alg-es256", "Protected header {1: -7} (ES256), signed over those bytes.",
                resigned_protected(enc({1: -7})), "malformed")
    add_invalid("malformed-protected-extra-entry",
                "Protected header {1: -8, 3: 0} (an extra content-type entry), signed over those bytes.",
                resigned_protected(enc({1: -8, 3: 0})), "malformed")
    add_invalid("malformed-protected-non-shortest-alg",
                "Protected header a1 01 38 07: {1: -8} with -8 in non-shortest form, signed over those bytes.",
                resigned_protected(bytes.fromhex("a1013807")), "malformed")
    add_invalid("malformed-unprotected-missing-kid", "Unprotected header {} (no kid).",
                envelope(PROTECTED_EDDSA, {}, minimal, sig), "malformed")
    add_invalid("malformed-kid-31-bytes", "kid is the device key without its last byte.",
                envelope(PROTECTED_EDDSA, {4: kid[:31]}, minimal, sig), "malformed")
    add_invalid("malformed-unprotected-extra-entry", "Unprotected header {4: kid, 5: h'000102'}.",
                envelope(PROTECTED_EDDSA, {4: kid, 5: b"\x00\x01\x02"}, minimal, sig), "malformed")
    add_invalid("malformed-signature-63-bytes", "Signature without its last byte.",
                envelope(PROTECTED_EDDSA, {4: kid}, minimal, sig[:63]), "malformed", signed_ok=False)

    # ------------------------------------------------------------ malformed: payload (correctly signed)
    tr = transfer

    add_invalid("malformed-payload-trailing-byte",
                "The payload is a valid batch followed by one extra byte; signed over all of it.",
                signed(minimal + b"\x00"), "malformed")
    add_bad_payload("malformed-seq-non-shortest", "seq 1 written as 18 01.",
                    minimal_batch(seq=Raw(b"\x18\x01")))
    add_bad_payload("malformed-network-length-non-shortest", "network text length written as 78 0e.",
                    minimal_batch(network=Raw(head_wide(3, len(NET), 1) + NET.encode())))
    add_bad_payload("malformed-transfers-indefinite-array", "transfers as an indefinite-length array.",
                    minimal_batch_with(6, Raw(b"\x9f" + enc(tr(ALICE, 1000)) + b"\xff")))
    add_bad_payload("malformed-batch-keys-unsorted", "Batch map with key 1 (network) before key 0 (version).",
                    Map([(1, NET), (0, 1), (2, 1), (3, ZERO32), (4, T0), (5, 0), (6, [tr(ALICE, 1000)])]))
    add_bad_payload("malformed-transfer-duplicate-key", "A transfer map with key 1 (amount) twice.",
                    batch([Map([(0, ALICE), (1, 1000), (1, 1000)])]))
    add_bad_payload("malformed-reading-float", "A reading as a double-precision float (fb, -12.5).",
                    batch([tr(ALICE, 1, "thermo-1", Raw(bytes.fromhex("fbc029000000000000")))]))
    add_bad_payload("malformed-amount-bignum", "An amount as a tag-2 bignum (c2 41 05).",
                    batch([Map([(0, ALICE), (1, Tag(2, b"\x05"))])]))
    add_bad_payload("malformed-sensor-invalid-utf8", "A sensor text string containing bytes c3 28 (invalid UTF-8).",
                    batch([tr(ALICE, 1, Raw(b"\x65ab\xc3\x28c"))]))
    add_bad_payload("malformed-sensor-utf8-surrogate",
                    "A sensor text string containing ed a0 80 (an encoded UTF-16 surrogate, invalid UTF-8).",
                    batch([tr(ALICE, 1, Raw(b"\x64a\xed\xa0\x80"))]))
    add_bad_payload("malformed-batch-unknown-key", "Batch map with an extra key 7.",
                    {**minimal_batch(), 7: 0})
    add_bad_payload("malformed-transfer-unknown-key", "A transfer map with an extra key 5.",
                    batch([{**tr(ALICE, 1, "thermo-1", 5, T0), 5: 0}]))
    add_bad_payload("malformed-batch-missing-fee", "Batch map without key 5 (fee).",
                    {k: v for k, v in minimal_batch().items() if k != 5})
    add_bad_payload("malformed-version-2", "version 2.", minimal_batch(version=2))
    add_bad_payload("malformed-network-bstr", "network as a byte string instead of a text string.",
                    minimal_batch(network=NET.encode()))
    add_bad_payload("malformed-network-uppercase", "network id with an upper-case letter (Kognita-devnet).",
                    minimal_batch(network="Kognita-devnet"))
    add_bad_payload("malformed-network-33-chars", "network id of 33 characters.",
                    minimal_batch(network=NET32 + "0"))
    add_bad_payload("malformed-seq-0", "seq 0.", minimal_batch(seq=0))
    add_bad_payload("malformed-prev-31-bytes", "prev of 31 bytes (seq 2).",
                    minimal_batch(seq=2, prev=b"\x01" * 31))
    add_bad_payload("malformed-seq-1-nonzero-prev", "seq 1 with a prev that is not 32 zero bytes.",
                    minimal_batch(prev=b"\x00" * 31 + b"\x01"))
    add_bad_payload("malformed-no-transfers", "An empty transfers array.", batch([]))
    add_bad_payload("malformed-amount-0", "A transfer with amount 0.", batch([tr(ALICE, 5), tr(BOB, 0)]))
    add_bad_payload("malformed-amount-negative", "A transfer with amount -1 (a negative integer).",
                    batch([tr(ALICE, -1)]))
    add_bad_payload("malformed-total-overflow-fee",
                    "Amounts sum to 2^64-1 and the fee of 1 makes the total overflow uint64.",
                    batch([tr(ALICE, 2**63), tr(BOB, 2**63 - 1)], fee=1))
    add_bad_payload("malformed-amounts-overflow",
                    "Two amounts of 2^63 overflow uint64 with fee 0.",
                    batch([tr(ALICE, 2**63), tr(BOB, 2**63)]))
    add_bad_payload("malformed-sensor-65-bytes", "A sensor of 65 ASCII bytes.", batch([tr(ALICE, 1, "s" * 65)]))
    add_bad_payload("malformed-sensor-66-bytes-22-chars",
                    "A sensor of 22 characters but 66 bytes (22 x U+20AC); the limit is in bytes.",
                    batch([tr(ALICE, 1, "€" * 22)]))
    add_bad_payload("malformed-reading-below-int64", "A reading of -2^63-1 (3b 8000000000000000), below int64.",
                    batch([tr(ALICE, 1, "probe", INT64_MIN - 1)]))
    add_bad_payload("malformed-reading-above-int64", "A reading of 2^63 (1b 8000000000000000), above int64.",
                    batch([tr(ALICE, 1, "probe", INT64_MAX + 1)]))

    # ------------------------------------------------------------ bad signature
    flipped = bytearray(good)
    flipped[-1] ^= 0x01
    add_invalid("bad-signature-bit-flipped", "valid-minimal with the lowest bit of the signature's last byte flipped.",
                bytes(flipped), "bad-signature", signed_ok=False)
    altered = encode_payload(batch([transfer(ALICE, 1001)]))
    assert len(altered) == len(minimal)
    add_invalid("bad-signature-payload-altered", "The amount changed from 1000 to 1001 after signing.",
                envelope(PROTECTED_EDDSA, {4: kid}, altered, sig), "bad-signature", signed_ok=False)
    add_invalid("bad-signature-kid-of-other-key", "Signed by device-a but the kid is device-b's public key.",
                envelope(PROTECTED_EDDSA, {4: public(OTHER)}, minimal, sig), "bad-signature", signed_ok=False)
    add_invalid("bad-signature-external-aad",
                "Signed over a Sig_structure with external_aad h'00' instead of h''.",
                envelope(PROTECTED_EDDSA, {4: kid}, minimal, sign(DEVICE, sig_structure(PROTECTED_EDDSA, minimal, b"\x00"))),
                "bad-signature", signed_ok=False)
    add_invalid("bad-signature-raw-payload", "Ed25519 over the payload bytes alone, not the Sig_structure.",
                envelope(PROTECTED_EDDSA, {4: kid}, minimal, sign(DEVICE, minimal)), "bad-signature", signed_ok=False)
    add_invalid("bad-signature-protected-swapped",
                "Signed with protected a1 01 27, then the header replaced by a1 01 32 (signature not redone).",
                envelope(PROTECTED_ED25519, {4: kid}, minimal, sig), "bad-signature", signed_ok=False)

    # ------------------------------------------------------------ wrong network
    add_bad_payload("wrong-network-testnet", "A well-formed batch for kognita-testnet sent to kognita-devnet.",
                    minimal_batch(network="kognita-testnet"), reason="wrong-network")
    add_bad_payload("wrong-network-prefix", "network kognita-dev, a prefix of the expected kognita-devnet.",
                    minimal_batch(network="kognita-dev"), reason="wrong-network")
    add_invalid("wrong-network-32-chars-last-differs",
                "A 32-character network id differing from the expected one only in its last character.",
                signed(encode_payload(minimal_batch(network=NET32[:-1] + "0"))), "wrong-network", expect=NET32)

    # ------------------------------------------------------------ too large (correctly signed)
    big = sized_batch(65537)
    add_bad_payload("too-large-payload-65537-bytes", "A payload of 65537 bytes, one over the limit.", big,
                    reason="too-large")
    add_bad_payload("too-large-1025-transfers", "1025 transfers, one over the limit (payload well under 64 KiB).",
                    batch([transfer(GRID, i + 1) for i in range(1025)]), reason="too-large")


def minimal_batch_with(key, value):
    b = minimal_batch()
    b[key] = value
    return b


# --------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------

def _pycose_verify_valid(v):
    from pycose.keys import OKPKey
    from pycose.messages import CoseMessage

    cose = bytes.fromhex(v["cose"])
    ref.register_ed25519_with_pycose()
    msg = CoseMessage.decode(cose)
    msg.key = OKPKey(crv="Ed25519", x=bytes.fromhex(v["signer"]))
    if not msg.verify_signature():
        raise AssertionError(f"{v['name']}: pycose does not verify the signature")
    if msg.payload.hex() != v["payload"]:
        raise AssertionError(f"{v['name']}: pycose payload differs")
    if hashlib.blake2b(msg.payload, digest_size=32).hexdigest() != v["id"]:
        raise AssertionError(f"{v['name']}: id mismatch")
    # With alg -8, what we produce must be byte-identical to what pycose
    # produces for the same message (tag, header encodings, ordering).
    if cose[3:6] == PROTECTED_EDDSA:
        from pycose.algorithms import EdDSA
        from pycose.headers import KID, Algorithm
        seed = {public(k).hex(): k for k in (DEVICE, OTHER, METER)}[v["signer"]].encode()
        again = type(msg)(phdr={Algorithm: EdDSA}, uhdr={KID: bytes.fromhex(v["signer"])},
                          payload=msg.payload, key=OKPKey(crv="Ed25519", d=seed))
        if again.encode() != cose:
            raise AssertionError(f"{v['name']}: pycose encodes the same message differently")


def _signature_verifies(cose):
    """Does the signature verify over the received protected header and payload?

    Parsed leniently with cbor2 on purpose, so that envelope defects do not
    hide the answer. The key is the kid when it is 32 bytes, else device-a
    (the signer of every vector whose kid is damaged).
    """
    try:
        obj = cbor2.loads(cose)
        while isinstance(obj, cbor2.CBORTag):
            obj = obj.value
        protected, unprotected, payload, sig = obj
        key = unprotected.get(4)
        if not isinstance(key, bytes) or len(key) != 32:
            key = public(DEVICE)
        nacl.signing.VerifyKey(key).verify(sig_structure(protected, payload), sig)
        return True
    except BadSignatureError:
        return False
    except Exception:       # not even leniently parseable
        return False


def self_check():
    names = set()
    for v in VECTORS:
        name = v["name"]
        if name in names:
            raise AssertionError(f"duplicate vector name {name}")
        names.add(name)
        cose = bytes.fromhex(v["cose"])
        expected = None if v["valid"] else v["reason"]
        try:
            result = ref.check(cose, v["expect_network"])
            got = None
        except ref.Reject as r:
            result, got = None, r.reason
        if got != expected:
            raise AssertionError(f"{name}: reference checker says {got}, vector says {expected}")
        if v["valid"]:
            if result["batch"] != v["batch"] or result["id"] != v["id"] or result["signer"] != v["signer"]:
                raise AssertionError(f"{name}: reference checker decodes a different batch")
            _pycose_verify_valid(v)
        if _signature_verifies(cose) != _SIGNED_OK[name]:
            raise AssertionError(f"{name}: signature verifies = {not _SIGNED_OK[name]}, expected the opposite")


def main(argv):
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    build()
    self_check()
    doc = {
        "contract": "Kognita device protocol, version 1",
        "generator": "Tests/Vectors/generate_batch_vectors.py (pynacl + cbor2)",
        "vectors": VECTORS,
    }
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Independent receiver-side check of one Kognita signed batch (version 1 or 2).

Usage:
    verify_with_pycose.py FILE [--network NET]

FILE holds the COSE_Sign1_Tagged bytes exactly as a device would publish them.
The script applies every rule of the wire contract (docs/PROTOCOL.md,
"Kognita device protocol", version 1 and the section "Version 2: operations
(bond, unbond, register)"), verifies the Ed25519 signature with pycose using a
key built from the kid, then (version 2) each registration's node signature
with PyNaCl, and prints one JSON object:

    {"valid": true, "id": hex, "signer": hex, "batch": {...}}      exit 0
    {"valid": false, "error": text, "reason": reason}               exit 1

It needs pycose (`make setup` puts it in .build-venv: run it as
`.build-venv/bin/python Tests/Interop/verify_with_pycose.py ...`, or
`pip install pycose`); without it, it says so and exits 2, judging
nothing.

"reason" is one of malformed, bad-signature, wrong-network, too-large (the Ack
reason names); the network check only runs when --network is given. A version-2
batch's JSON shape has an extra "operations" list (a version-1 batch's has no
such key): {"type": "bond"|"unbond", "amount": N} or {"type": "register",
"node": hex, "addresses": [text], "signature": hex}. Ledger reasons
(insufficient-bond, not-authorized, ...) need account state and are not judged.

Why not just pycose/cbor2: both are lenient decoders (cbor2.loads silently
ignores trailing bytes, accepts non-shortest integers, indefinite lengths,
unsorted or duplicate map keys, floats and arbitrary tags). The contract
requires rejecting all of those, so the bytes are first run through the small
strict decoder below; pycose is only trusted with the signature.

The module is importable: the vector generator uses `check()` to confirm that
every vector is classified the way it claims.
"""

import hashlib
import json
import re
import sys

MALFORMED = "malformed"
BAD_SIGNATURE = "bad-signature"
WRONG_NETWORK = "wrong-network"
TOO_LARGE = "too-large"

MAX_PAYLOAD = 65536          # "The encoded batch is at most 64 KiB."
MAX_TRANSFERS = 1024
MAX_SENSOR_BYTES = 64
MAX_OPERATIONS = 16          # version 2: operations per batch
MAX_ADDRESSES = 4            # version 2: addresses per registration
MAX_ADDRESS_BYTES = 64       # version 2: UTF-8 bytes per address
REGISTER_CONTEXT = "kognita-register-v1"
OP_BOND, OP_UNBOND, OP_REGISTER = 1, 2, 3
UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
NETWORK_RE = re.compile(r"[a-z0-9-]{1,32}")   # used with fullmatch (ASCII only)

ALG_EDDSA = -8       # RFC 9053
ALG_ED25519 = -19    # RFC 9864 (fully specified Ed25519); receivers accept it too

COSE_SIGN1_TAG = 18
MAX_DEPTH = 16       # our structures nest 4 deep; anything deeper is rejected


class Reject(Exception):
    """Input refused; `reason` is the Ack reason name, the message says why."""

    def __init__(self, reason, text):
        super().__init__(text)
        self.reason = reason


def _malformed(text):
    return Reject(MALFORMED, text)


# --------------------------------------------------------------------------
# Strict deterministic CBOR decoder (RFC 8949 section 4.2.1 core rules plus
# the contract's extra restrictions: no floats, no tags, uint map keys).
# --------------------------------------------------------------------------

class Simple:
    """A CBOR simple value other than false/true/null (never valid here)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"simple({self.value})"


UNDEFINED = Simple(23)


class _Decoder:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def _take(self, n):
        if n > len(self.data) - self.pos:
            raise _malformed(f"truncated input at offset {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def head(self):
        """Read an initial byte and its argument; enforce shortest form."""
        start = self.pos
        ib = self._take(1)[0]
        major, ai = ib >> 5, ib & 0x1F
        if ai < 24:
            return major, ai, ai
        if ai in (28, 29, 30):
            raise _malformed(f"reserved additional information {ai} at offset {start}")
        if ai == 31:
            if major in (2, 3, 4, 5):
                raise _malformed(f"indefinite length item at offset {start}")
            if major == 7:
                raise _malformed(f"unexpected break code at offset {start}")
            raise _malformed(f"additional information 31 not allowed for major type {major} at offset {start}")
        size = 1 << (ai - 24)                      # 1, 2, 4 or 8 bytes
        arg = int.from_bytes(self._take(size), "big")
        if major == 7:
            # ai 25/26/27 are half/single/double floats; ai 24 is a simple value.
            if ai != 24:
                raise _malformed(f"floating-point value at offset {start}")
            if arg < 32:
                raise _malformed(f"simple value {arg} in two-byte form at offset {start}")
            return major, ai, arg
        # smallest argument that needs each width: 1 byte >= 24,
        # 2 bytes >= 2^8, 4 bytes >= 2^16, 8 bytes >= 2^32
        minimum = {1: 24, 2: 1 << 8, 4: 1 << 16, 8: 1 << 32}[size]
        if arg < minimum:
            raise _malformed(f"non-shortest encoding of argument {arg} at offset {start}")
        return major, ai, arg

    def item(self, depth=0):
        if depth > MAX_DEPTH:
            raise _malformed("nesting too deep")
        start = self.pos
        major, _ai, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self._take(arg)
        if major == 3:
            raw = self._take(arg)
            try:
                return raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise _malformed(f"invalid UTF-8 in text string at offset {start}") from None
        if major == 4:
            # every item takes at least one byte: cheap guard against huge counts
            if arg > len(self.data) - self.pos:
                raise _malformed(f"truncated array at offset {start}")
            return [self.item(depth + 1) for _ in range(arg)]
        if major == 5:
            if 2 * arg > len(self.data) - self.pos:
                raise _malformed(f"truncated map at offset {start}")
            result = {}
            previous_key_bytes = None
            for _ in range(arg):
                key_start = self.pos
                key = self.item(depth + 1)
                key_bytes = self.data[key_start:self.pos]
                # Every map in the contract has small unsigned integer keys,
                # so any other key type can only be an unknown key.
                if type(key) is not int or key < 0:
                    raise _malformed(f"map key at offset {key_start} is not an unsigned integer")
                if previous_key_bytes is not None:
                    if key_bytes == previous_key_bytes:
                        raise _malformed(f"duplicate map key {key} at offset {key_start}")
                    if key_bytes < previous_key_bytes:
                        raise _malformed(f"map keys not in bytewise order at offset {key_start}")
                previous_key_bytes = key_bytes
                result[key] = self.item(depth + 1)
            return result
        if major == 6:
            raise _malformed(f"tag {arg} at offset {start} (only the outer COSE tag 18 is allowed)")
        # major 7, simple values (floats and break were rejected in head())
        return {20: False, 21: True, 22: None}.get(arg, UNDEFINED if arg == 23 else Simple(arg))


def decode_strict(data, what="input"):
    """Decode exactly one deterministic CBOR item (no tags) filling `data`."""
    dec = _Decoder(data)
    try:
        value = dec.item()
    except Reject as r:
        raise _malformed(f"{what}: {r}") from None
    if dec.pos != len(dec.data):
        raise _malformed(f"{what}: {len(dec.data) - dec.pos} trailing byte(s) after the CBOR item")
    return value


# --------------------------------------------------------------------------
# Contract rules
# --------------------------------------------------------------------------

def _is_uint(v):
    return type(v) is int and 0 <= v <= UINT64_MAX    # bool is not int here


def _require_keys(m, required, optional, what):
    for k in m:
        if k not in required and k not in optional:
            raise _malformed(f"unknown key {k} in {what}")
    for k in required:
        if k not in m:
            raise _malformed(f"missing key {k} in {what}")


def _transfer(t, index):
    what = f"transfer {index}"
    if type(t) is not dict:
        raise _malformed(f"{what} is not a map")
    _require_keys(t, (0, 1), (2, 3, 4), what)
    to, amount = t[0], t[1]
    if type(to) is not bytes or len(to) != 32:
        raise _malformed(f"{what}: 'to' is not a 32-byte byte string")
    if not _is_uint(amount):
        raise _malformed(f"{what}: 'amount' is not an unsigned integer")
    if amount < 1:
        raise _malformed(f"{what}: 'amount' is 0")
    out = {"to": to.hex(), "amount": amount}
    if 2 in t:
        sensor = t[2]
        if type(sensor) is not str:
            raise _malformed(f"{what}: 'sensor' is not a text string")
        # the limit is in bytes, not characters
        if len(sensor.encode("utf-8")) > MAX_SENSOR_BYTES:
            raise _malformed(f"{what}: 'sensor' longer than {MAX_SENSOR_BYTES} bytes")
        out["sensor"] = sensor
    if 3 in t:
        reading = t[3]
        if type(reading) is not int:
            raise _malformed(f"{what}: 'reading' is not an integer")
        if not INT64_MIN <= reading <= INT64_MAX:
            raise _malformed(f"{what}: 'reading' outside the signed 64-bit range")
        out["reading"] = reading
    if 4 in t:
        if not _is_uint(t[4]):
            raise _malformed(f"{what}: 'at' is not an unsigned integer")
        out["at"] = t[4]
    return out


def is_host_port(address):
    """`host:port`: a non-empty host before the last ':', then 1-5 ASCII digits
    whose value is 1-65535. Nothing else about the host is checked."""
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port or len(port) > 5:
        return False
    if any(c not in "0123456789" for c in port):
        return False
    return 1 <= int(port) <= 65535


def _operation(op, index):
    """Validate one version-2 operation map; return its JSON shape.

    Its entries are read in the order they were received (the strict decoder
    keeps it, and it is ascending), so of several defects the first met in the
    bytes is the one reported, as the contract asks.
    """
    what = f"operation {index}"
    if type(op) is not dict:
        raise _malformed(f"{what} is not a map")
    for k, v in op.items():
        if k == 0:
            if not _is_uint(v):
                raise _malformed(f"{what}: 'type' is not an unsigned integer")
        elif k == 1:
            if not _is_uint(v):
                raise _malformed(f"{what}: 'amount' is not an unsigned integer")
        elif k == 2:
            if type(v) is not bytes or len(v) != 32:
                raise _malformed(f"{what}: 'node' is not a 32-byte byte string")
        elif k == 3:
            if type(v) is not list:
                raise _malformed(f"{what}: 'addresses' is not an array")
            # A count limit, like transfers and operations: too-large.
            if len(v) > MAX_ADDRESSES:
                raise Reject(TOO_LARGE, f"{what}: {len(v)} addresses, limit {MAX_ADDRESSES}")
            for i, address in enumerate(v):
                if type(address) is not str:
                    raise _malformed(f"{what}: address {i} is not a text string")
                if len(address.encode("utf-8")) > MAX_ADDRESS_BYTES:
                    raise _malformed(f"{what}: address {i} longer than {MAX_ADDRESS_BYTES} bytes")
        elif k == 4:
            if type(v) is not bytes or len(v) != 64:
                raise _malformed(f"{what}: 'signature' is not a 64-byte byte string")
        else:
            raise _malformed(f"unknown key {k} in {what} (an operation has keys 0-4)")
    if 0 not in op:
        raise _malformed(f"missing key 0 (type) in {what}")
    kind = op[0]
    if kind in (OP_BOND, OP_UNBOND):
        _require_keys(op, (0, 1), (), f"{what} (a bond or unbond has only keys 0 and 1)")
        if op[1] < 1:
            raise _malformed(f"{what}: 'amount' is 0")
        return {"type": "bond" if kind == OP_BOND else "unbond", "amount": op[1]}
    if kind == OP_REGISTER:
        _require_keys(op, (0, 2, 3, 4), (), f"{what} (a registration has keys 0, 2, 3 and 4)")
        addresses = op[3]
        if len(addresses) == 0:
            raise _malformed(f"{what}: a registration lists 1 to {MAX_ADDRESSES} addresses, not 0")
        for i, address in enumerate(addresses):
            if not is_host_port(address):
                raise _malformed(f"{what}: address {i} is not host:port with a port 1-65535")
        return {"type": "register", "node": op[2].hex(), "addresses": list(addresses),
                "signature": op[4].hex()}
    raise _malformed(f"{what}: unknown operation type {kind} (1 bond, 2 unbond, 3 register)")


def _operations(ops):
    if type(ops) is not list:
        raise _malformed("'operations' is not an array")
    if len(ops) > MAX_OPERATIONS:
        raise Reject(TOO_LARGE, f"{len(ops)} operations, limit {MAX_OPERATIONS}")
    if len(ops) == 0:
        raise _malformed("a version-2 batch has 1 to 16 operations; the list is empty")
    return [_operation(op, i) for i, op in enumerate(ops)]


def registration_signing_bytes(network, account, node, addresses):
    """What a registration's node key signs: the deterministic CBOR array
    ["kognita-register-v1", network, account, node, [addresses...]]."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
        raise ValueError("argument too large")

    def text(t):
        raw = t.encode("utf-8")
        return head(3, len(raw)) + raw

    return (head(4, 5) + text(REGISTER_CONTEXT) + text(network) + head(2, 32) + account
            + head(2, 32) + node + head(4, len(addresses)) + b"".join(text(a) for a in addresses))


def parse_batch(payload):
    """Validate payload bytes as a version-1 or version-2 batch; return its JSON shape."""
    if len(payload) > MAX_PAYLOAD:
        raise Reject(TOO_LARGE, f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD}")
    b = decode_strict(payload, "payload")
    if type(b) is not dict:
        raise _malformed("batch is not a map")
    version = b.get(0)
    if 0 in b and not _is_uint(version):
        raise _malformed("'version' is not an unsigned integer")
    if 0 in b and version not in (1, 2, 3):
        raise _malformed(f"unsupported version {version}")
    # Version 1 has keys 0-6 and no other; version 2 adds key 7 (required);
    # version 3 adds key 8 (required, the bridge) and allows key 7.
    if version == 3:
        _require_keys(b, (0, 1, 2, 3, 4, 5, 6, 8), (7,), "batch")
    else:
        _require_keys(b, (0, 1, 2, 3, 4, 5, 6, 7) if version == 2 else (0, 1, 2, 3, 4, 5, 6), (), "batch")
    if version == 3 and (type(b[8]) is not bytes or len(b[8]) != 32):
        raise _malformed("'via' is not a 32-byte byte string")
    network, seq, prev, created, fee, transfers = (b[k] for k in range(1, 7))
    if type(network) is not str:
        raise _malformed("'network' is not a text string")
    if not NETWORK_RE.fullmatch(network):
        raise _malformed("'network' is not 1-32 characters of [a-z0-9-]")
    if not _is_uint(seq):
        raise _malformed("'seq' is not an unsigned integer")
    if seq == 0:
        raise _malformed("'seq' is 0")
    if type(prev) is not bytes or len(prev) != 32:
        raise _malformed("'prev' is not a 32-byte byte string")
    if seq == 1 and prev != bytes(32):
        raise _malformed("'prev' must be 32 zero bytes when seq is 1")
    if not _is_uint(created):
        raise _malformed("'created' is not an unsigned integer")
    if not _is_uint(fee):
        raise _malformed("'fee' is not an unsigned integer")
    if type(transfers) is not list:
        raise _malformed("'transfers' is not an array")
    if len(transfers) > MAX_TRANSFERS:
        raise Reject(TOO_LARGE, f"{len(transfers)} transfers, limit {MAX_TRANSFERS}")
    out_operations = _operations(b[7]) if version == 2 or (version == 3 and 7 in b) else []
    # Version 1 needs a transfer; version 2 may have none (it has operations).
    if len(transfers) == 0 and not out_operations:
        raise _malformed("no transfers")
    out_transfers = [_transfer(t, i) for i, t in enumerate(transfers)]
    # The debit: every amount, every bond (not unbonds), and the fee.
    total = fee + sum(t["amount"] for t in out_transfers) \
        + sum(op["amount"] for op in out_operations if op["type"] == "bond")
    if total > UINT64_MAX:
        raise _malformed("sum of amounts, bonds and fee overflows uint64")
    out = {"version": version, "network": network, "seq": seq, "prev": prev.hex(),
           "created": created, "fee": fee, "transfers": out_transfers}
    if version == 2 or (version == 3 and 7 in b):
        out["operations"] = out_operations
    if version == 3:
        out["via"] = b[8].hex()
    return out


def parse_envelope(data):
    """Check the COSE_Sign1_Tagged structure; return (protected, kid, payload, sig)."""
    dec = _Decoder(data)
    major, _ai, tag = dec.head()
    if major != 6:
        raise _malformed("missing COSE_Sign1 tag 18")
    if tag != COSE_SIGN1_TAG:
        raise _malformed(f"tag {tag} instead of COSE_Sign1 tag 18")
    body = dec.item()           # a tag inside the tag is rejected by item()
    if dec.pos != len(dec.data):
        raise _malformed(f"{len(dec.data) - dec.pos} trailing byte(s) after the COSE_Sign1 item")
    if type(body) is not list or len(body) != 4:
        raise _malformed("COSE_Sign1 is not an array of 4 items")
    protected, unprotected, payload, signature = body
    if type(protected) is not bytes:
        raise _malformed("protected header is not a byte string")
    # Decoding strictly and comparing the map is the same as requiring the
    # exact bytes A1 01 27 / A1 01 32, since only one encoding is deterministic.
    if decode_strict(protected, "protected header") not in ({1: ALG_EDDSA}, {1: ALG_ED25519}):
        raise _malformed("protected header is not exactly {1: -8} or {1: -19}")
    if type(unprotected) is not dict or set(unprotected) != {4}:
        raise _malformed("unprotected header is not exactly {4: kid}")
    kid = unprotected[4]
    if type(kid) is not bytes or len(kid) != 32:
        raise _malformed("kid is not a 32-byte byte string")
    if type(payload) is not bytes:
        raise _malformed("payload is not a byte string")
    if type(signature) is not bytes or len(signature) != 64:
        raise _malformed("signature is not a 64-byte byte string")
    return protected, kid, payload, signature


# --------------------------------------------------------------------------
# Signature, with pycose
# --------------------------------------------------------------------------

def register_ed25519_with_pycose():
    """Teach pycose alg -19; idempotent.

    pycose 1.1.0 predates RFC 9864 and refuses alg -19 outright when parsing
    the protected header. Ed25519 (-19) is EdDSA restricted to the Ed25519
    curve, which the OKPKey used for verification pins anyway, so EdDSA's
    sign/verify code is reused unchanged.
    """
    from pycose.algorithms import CoseAlgorithm, EdDSA

    if ALG_ED25519 not in CoseAlgorithm.get_registered_classes():
        @CoseAlgorithm.register_attribute()
        class Ed25519(EdDSA):            # noqa: F841 (registered as a side effect)
            identifier = ALG_ED25519
            fullname = "ED25519"


def _pycose_verify(data, kid):
    # Imported lazily so the strict parser above can be used without pycose.
    from pycose.keys import OKPKey
    from pycose.messages import CoseMessage

    register_ed25519_with_pycose()
    msg = CoseMessage.decode(data)
    # pycose keeps the received protected-header bytes and payload bytes and
    # builds the Sig_structure from them (no re-encoding of what was signed).
    msg.key = OKPKey(crv="Ed25519", x=kid)
    try:
        return msg.verify_signature()
    except Exception:       # e.g. kid not a valid curve point
        return False


def _node_signature_ok(network, account, op):
    import nacl.signing     # lazily, like pycose

    message = registration_signing_bytes(network, account, bytes.fromhex(op["node"]), op["addresses"])
    try:
        nacl.signing.VerifyKey(bytes.fromhex(op["node"])).verify(message, bytes.fromhex(op["signature"]))
        return True
    except Exception:       # BadSignatureError, or a node key that is no curve point
        return False


def check(data, expect_network=None):
    """Return the result dict for COSE bytes; raise Reject when refused."""
    _protected, kid, payload, _sig = parse_envelope(data)
    batch = parse_batch(payload)
    if not _pycose_verify(data, kid):
        raise Reject(BAD_SIGNATURE, "signature does not verify")
    # Version 2: each registration also carries the node key's consent, over
    # the batch's network and the signing account (the kid).
    for i, op in enumerate(batch.get("operations", [])):
        if op["type"] == "register" and not _node_signature_ok(batch["network"], kid, op):
            raise Reject(BAD_SIGNATURE, f"operation {i}: the node key did not sign this registration")
    if expect_network is not None and batch["network"] != expect_network:
        raise Reject(WRONG_NETWORK, f"batch is for network {batch['network']!r}, expected {expect_network!r}")
    return {"valid": True,
            "id": hashlib.blake2b(payload, digest_size=32).hexdigest(),
            "signer": kid.hex(),
            "batch": batch}


def classify(data, expect_network=None):
    """None when valid, otherwise the reason name."""
    try:
        check(data, expect_network)
        return None
    except Reject as r:
        return r.reason


def main(argv):
    args = list(argv[1:])
    network = None
    if "--network" in args:
        i = args.index("--network")
        if i + 1 >= len(args):
            print(__doc__, file=sys.stderr)
            return 2
        network = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import pycose  # noqa: F401 (only checked here: a missing library is not a bad batch)
    except ImportError as e:
        print(f"verify_with_pycose: {e}; run it with .build-venv/bin/python (made by 'make setup') "
              "or 'pip install pycose' first", file=sys.stderr)
        return 2
    with open(args[0], "rb") as f:
        data = f.read()
    try:
        result = check(data, network)
    except Reject as r:
        print(json.dumps({"valid": False, "error": str(r), "reason": r.reason}))
        return 1
    except Exception as e:    # never crash on hostile input: report it instead
        print(json.dumps({"valid": False, "error": f"internal error: {e!r}", "reason": MALFORMED}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

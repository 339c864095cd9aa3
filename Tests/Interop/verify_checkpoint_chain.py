#!/usr/bin/env python3
"""Verify a Kognita node's checkpoint header chain from genesis, the way a
device does, written from the documentation alone (docs/PROTOCOL.md, "The
finality certificate" and "A certificate from a later epoch: following the
header chain"; docs/EPOCHS.md, sections 2, 3 and 6). pynacl for Ed25519,
cbor2 for CBOR, hashlib for BLAKE2b; it shares no code with Kognita.

Usage:
    verify_checkpoint_chain.py --genesis PATH/genesis.toml --node http://127.0.0.1:PORT
        [--upto EPOCH] [--certificate HEX [--batch-epoch N]]
        [--genesis-digest HEX] [--tamper]

It starts from the genesis committee (genesis.toml, weights capped as in
EPOCHS.md section 6 rule 4), fetches the signed checkpoints 0..latest (or
..--upto) as CBOR, and checks each: epoch, network, `previous` chaining,
the commit signatures (distinct, sorted, members, Ed25519 over
["kognita-commit-v1", network, epoch, round, digest], more than 2/3 of the
weight), then takes the next committee from the header. It cross-checks
each checkpoint's JSON form against its CBOR. With --certificate it then
checks a finality certificate against the committee of its epoch.

The genesis digest (the `previous` of epoch 0) cannot be computed from
genesis.toml with what the docs say, so unless --genesis-digest gives it
(e.g. as `kognita genesis new` printed it) it is taken from the node's
/v1/status, which is then NOT an independent check.

--tamper flips one byte of the first checkpoint's first commit signature
before verifying: the run must then fail (exit 1).

Prints one line per checkpoint, "epoch N ok digest HEX signers k/n", and
exits 0 when everything verifies; exits 1 with a message at the first
failure (2 for usage errors).
"""

import argparse
import hashlib
import json
import re
import sys
import tomllib
import urllib.error
import urllib.request

import cbor2
import nacl.exceptions
import nacl.signing

HEADER_TAG = "kognita-checkpoint-v1"
COMMIT_TAG = "kognita-commit-v1"
VOTE_TAG = "kognita-vote-v1"
MAX_COMMITTEE = 64          # PROTOCOL.md: "up to 64 validators"
UINT64_MAX = 2**64 - 1
NETWORK_RE = re.compile(r"^[a-z0-9-]{1,32}$")


class VerifyError(Exception):
    pass


def fail(msg):
    raise VerifyError(msg)


def blake2b256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def cbor(obj):
    """Deterministic CBOR (PROTOCOL.md "Encoding rules"); the values used
    here are only uints, byte and text strings and arrays, so cbor2's
    canonical form is the deterministic form."""
    return cbor2.dumps(obj, canonical=True)


def strict_cbor(raw, what):
    """Decode and insist the bytes are exactly the deterministic encoding
    of what they decode to (no trailing bytes, shortest forms, definite
    lengths); so re-encoding a part gives back that part's received bytes."""
    try:
        obj = cbor2.loads(raw)
    except Exception as e:  # cbor2 raises several types
        fail(f"{what}: not well-formed CBOR ({e})")
    try:
        again = cbor(obj)
    except Exception as e:
        fail(f"{what}: holds a value outside the contract's CBOR ({e})")
    if again != raw:
        fail(f"{what}: not deterministic CBOR (or trailing bytes): "
             f"{len(raw)} bytes received, {len(again)} re-encoded")
    return obj


# ---- type checks --------------------------------------------------------

def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= UINT64_MAX


def want_uint(v, what):
    if not is_uint(v):
        fail(f"{what}: expected an unsigned 64-bit integer, got {v!r}")
    return v


def want_bytes(v, n, what):
    if not isinstance(v, bytes) or len(v) != n:
        fail(f"{what}: expected a {n}-byte string, got {type(v).__name__}"
             f"{'(' + str(len(v)) + ')' if isinstance(v, (bytes, str, list)) else ''}")
    return v


def want_text(v, what):
    if not isinstance(v, str):
        fail(f"{what}: expected a text string, got {type(v).__name__}")
    return v


def want_array(v, what, n=None):
    if not isinstance(v, list):
        fail(f"{what}: expected an array, got {type(v).__name__}")
    if n is not None and len(v) != n:
        fail(f"{what}: expected {n} elements, got {len(v)}")
    return v


# ---- committees -----------------------------------------------------------

def capped_weights(stakes):
    """EPOCHS.md section 6 rule 4: weight = min(stake, c) with c the largest
    integer such that 3c < sum(min(stake_i, c)); with fewer than 4 seats
    every seat weighs the same. The docs do not say which value that is;
    the node gives every seat the smallest stake (observed: bonds 5e6, 3e6,
    2e6 -> 2e6 each), which is what is used here. Any common value gives
    the same quorums, so this choice cannot change a verdict."""
    ids = sorted(stakes)
    if len(ids) < 4:
        least = min(stakes.values())
        return {i: least for i in ids}

    def positive(c):
        return 3 * c < sum(min(s, c) for s in stakes.values())

    # f(c) = sum(min(s_i, c)) - 3c is concave with f(0) = 0 and, with at
    # least 4 positive stakes, f(1) > 0, so {c : f(c) > 0} is [1, c*].
    lo, hi = 1, sum(stakes.values())  # positive(lo) holds, positive(hi) fails
    if not positive(lo):
        fail("genesis: cannot cap the bonds (a bond of 0?)")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if positive(mid):
            lo = mid
        else:
            hi = mid
    return {i: min(stakes[i], lo) for i in ids}


def load_genesis(path):
    with open(path, "rb") as f:
        g = tomllib.load(f)
    net = g.get("network", {}).get("id")
    if not isinstance(net, str) or not NETWORK_RE.match(net):
        fail(f"genesis: bad or missing [network] id {net!r}")
    stakes = {}
    for k, v in enumerate(g.get("validator", [])):
        try:
            vid = bytes.fromhex(v["id"])
        except (KeyError, ValueError, TypeError):
            fail(f"genesis: validator {k + 1}: bad or missing id")
        if len(vid) != 32:
            fail(f"genesis: validator {k + 1}: id is not 32 bytes")
        if "bond" in v and "weight" in v and v["bond"] != v["weight"]:
            fail(f"genesis: validator {k + 1}: both bond and weight, and they differ")
        stake = v.get("bond", v.get("weight"))
        if not is_uint(stake) or stake == 0:
            fail(f"genesis: validator {k + 1}: bad or missing bond {stake!r}")
        if vid in stakes:
            fail(f"genesis: validator {v['id']} listed twice")
        stakes[vid] = stake
    if not stakes:
        fail("genesis: no [[validator]]")
    epochs = g.get("epochs", {})
    # The genesis digest, as docs/EPOCHS.md section 1 defines it: BLAKE2b-256
    # of the CBOR [network, minimum_fee, [epoch_ms, committee_size,
    # evidence_epochs, minimum_bond, max_clock_skew_ms, start_ms],
    # [[id, bond, address]...], [[account, amount]...], faucet or 0], lists
    # in file order, defaults for missing [epochs] keys.
    net_table = g.get("network", {})
    faucet = net_table.get("faucet")
    digest_input = [
        net,
        net_table.get("minimum_fee", 0),
        [epochs.get("epoch_seconds", 3600) * 1000, epochs.get("committee_size", 16), epochs.get("evidence_epochs", 2),
         epochs.get("minimum_bond", 1), epochs.get("max_clock_skew_ms", 2000), epochs.get("start_ms", 0)],
        [[bytes.fromhex(v["id"]), v.get("bond", v.get("weight")), v["address"]] for v in g.get("validator", [])],
        [[bytes.fromhex(a["account"]), a["amount"]] for a in g.get("allocation", [])],
        bytes.fromhex(faucet) if faucet else 0,
    ]
    return {
        "digest": blake2b256(cbor(digest_input)),
        "network": net,
        "committee": capped_weights(stakes),
        "stakes": stakes,
        "epoch_seconds": epochs.get("epoch_seconds", 3600),
        "start_ms": epochs.get("start_ms"),
    }


def check_committee_shape(committee, what):
    """A committee is non-empty, at most 64 seats, positive weights whose sum
    fits 64 bits, and obeys rule 4's consequence: with 4 or more seats no
    seat holds a third of the weight; with fewer all seats weigh the same."""
    if not committee:
        fail(f"{what}: empty committee")
    if len(committee) > MAX_COMMITTEE:
        fail(f"{what}: {len(committee)} validators, more than {MAX_COMMITTEE}")
    total = sum(committee.values())
    if total > UINT64_MAX:
        fail(f"{what}: total weight {total} does not fit 64 bits")
    if any(w == 0 for w in committee.values()):
        fail(f"{what}: a validator with weight 0")
    if len(committee) >= 4:
        heavy = [k.hex() for k, w in committee.items() if 3 * w >= total]
        if heavy:
            fail(f"{what}: {heavy[0]} holds a third or more of the weight "
                 f"(EPOCHS.md section 6 rule 4)")
    elif len(set(committee.values())) != 1:
        fail(f"{what}: fewer than 4 seats but unequal weights "
             f"(EPOCHS.md section 6 rule 4)")


def check_signers(signers, committee, what):
    """signers: list of (validator, signature, message). Distinct, sorted by
    key, members, each signature valid, weight > 2/3 of the total."""
    prev = None
    weight = 0
    for i, (vid, sig, msg) in enumerate(signers):
        if prev is not None and vid <= prev:
            fail(f"{what}: signer {i} ({vid.hex()}) is "
                 f"{'repeated' if vid == prev else 'out of order'}: signers must be distinct and sorted by key")
        prev = vid
        if vid not in committee:
            fail(f"{what}: signer {vid.hex()} is not in the committee")
        try:
            nacl.signing.VerifyKey(vid).verify(msg, sig)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError) as e:
            fail(f"{what}: the signature of {vid.hex()} does not verify ({e})")
        weight += committee[vid]
    total = sum(committee.values())
    if not 3 * weight > 2 * total:
        fail(f"{what}: signers weigh {weight} of {total}, not more than two thirds")
    return weight, total


# ---- HTTP -------------------------------------------------------------------

def http_get(url, accept=None):
    req = urllib.request.Request(url)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        body = e.read()[:300].decode("utf-8", "replace")
        fail(f"GET {url}: HTTP {e.code} {body}")
    except (urllib.error.URLError, OSError) as e:
        fail(f"GET {url}: {e}")


def get_json(url):
    ctype, body = http_get(url)
    try:
        return json.loads(body)
    except ValueError as e:
        fail(f"GET {url}: not JSON ({e}, Content-Type {ctype!r})")


# ---- checkpoints -------------------------------------------------------------

def decode_signed_checkpoint(raw, epoch):
    what = f"checkpoint {epoch}"
    obj = strict_cbor(raw, what)
    want_array(obj, what, 3)
    header, round_, sigs = obj
    want_array(header, f"{what} header", 8)
    tag, network, h_epoch, previous, timestamp, state_root, bodies, nextc = header
    if tag != HEADER_TAG:
        fail(f"{what}: header tag {tag!r}, expected {HEADER_TAG!r}")
    want_text(network, f"{what} network")
    want_uint(h_epoch, f"{what} epoch")
    want_bytes(previous, 32, f"{what} previous")
    want_uint(timestamp, f"{what} timestamp")
    want_bytes(state_root, 32, f"{what} state_root")
    want_array(bodies, f"{what} bodies")
    last_kind = None
    for j, b in enumerate(bodies):
        want_array(b, f"{what} body {j}", 2)
        want_uint(b[0], f"{what} body {j} kind")
        want_bytes(b[1], 32, f"{what} body {j} root")
        if last_kind is not None and b[0] <= last_kind:
            fail(f"{what}: bodies not sorted by kind, or a kind twice")
        last_kind = b[0]
    want_array(nextc, f"{what} next committee")
    committee = {}
    last = None
    for j, m in enumerate(nextc):
        want_array(m, f"{what} next committee entry {j}", 2)
        want_bytes(m[0], 32, f"{what} next committee entry {j} validator")
        want_uint(m[1], f"{what} next committee entry {j} weight")
        if last is not None and m[0] <= last:
            fail(f"{what}: next committee not sorted by id, or an id twice")
        last = m[0]
        committee[m[0]] = m[1]
    want_uint(round_, f"{what} round")
    want_array(sigs, f"{what} signatures")
    for j, s in enumerate(sigs):
        want_array(s, f"{what} signature {j}", 2)
        want_bytes(s[0], 32, f"{what} signature {j} validator")
        want_bytes(s[1], 64, f"{what} signature {j} signature")
    header_bytes = cbor(header)
    # The signed checkpoint is a 3-array (head byte 0x83) starting with the
    # header: the digest is over exactly the bytes received.
    if raw[0] != 0x83 or raw[1:1 + len(header_bytes)] != header_bytes:
        fail(f"{what}: header bytes are not the first element as received")
    return {
        "header": header, "header_bytes": header_bytes,
        "digest": blake2b256(header_bytes),
        "network": network, "epoch": h_epoch, "previous": previous,
        "timestamp": timestamp, "state_root": state_root, "bodies": bodies,
        "next_committee": committee, "round": round_, "sigs": sigs,
    }


def cross_check_json(cp, j, epoch):
    what = f"checkpoint {epoch} JSON vs CBOR"

    def same(field, got, want):
        if got != want:
            fail(f"{what}: {field} differs: JSON {got!r}, CBOR {want!r}")

    same("epoch", j.get("epoch"), cp["epoch"])
    same("digest", j.get("digest"), cp["digest"].hex())
    same("previous", j.get("previous"), cp["previous"].hex())
    same("state_root", j.get("state_root"), cp["state_root"].hex())
    same("timestamp", j.get("timestamp"), cp["timestamp"])
    same("round", j.get("round"), cp["round"])
    same("signers", j.get("signers"), [s[0].hex() for s in cp["sigs"]])
    same("next_committee", j.get("next_committee"),
         [{"id": k.hex(), "weight": w} for k, w in sorted(cp["next_committee"].items())])
    same("bodies", j.get("bodies"),
         [{"kind": b[0], "root": b[1].hex()} for b in cp["bodies"]])
    if "network" in j:
        same("network", j["network"], cp["network"])


def verify_certificate(raw, committees, network, batch_epoch):
    what = "certificate"
    c = strict_cbor(raw, what)
    if not isinstance(c, dict):
        fail(f"{what}: expected a map")
    if set(c) != {0, 1, 2, 3, 4}:
        fail(f"{what}: keys {sorted(c, key=repr)}, expected 0-4")
    batch_id = want_bytes(c[0], 32, f"{what} batch id")
    cnet = want_text(c[1], f"{what} network")
    epoch = want_uint(c[2], f"{what} epoch")
    votes = want_array(c[3], f"{what} signers")
    account = want_bytes(c[4], 32, f"{what} account")
    if cnet != network:
        fail(f"{what}: network {cnet!r}, expected {network!r}")
    if batch_epoch is not None and batch_epoch != epoch:
        fail(f"{what}: is of epoch {epoch}, --batch-epoch says {batch_epoch}")
    if epoch not in committees:
        fail(f"{what}: of epoch {epoch}, but the verified chain gives the "
             f"committees of epochs 0..{max(committees)} only")
    leaf = blake2b256(b"\x00" + account + batch_id)
    signers = []
    for i, v in enumerate(votes):
        want_array(v, f"{what} signer {i}", 5)
        vid = want_bytes(v[0], 32, f"{what} signer {i} validator")
        count = want_uint(v[1], f"{what} signer {i} count")
        index = want_uint(v[2], f"{what} signer {i} index")
        path = want_array(v[3], f"{what} signer {i} path")
        sig = want_bytes(v[4], 64, f"{what} signer {i} signature")
        for k, p in enumerate(path):
            want_bytes(p, 32, f"{what} signer {i} path {k}")
        root = merkle_root_from_path(leaf, index, count, path, f"{what} signer {i}")
        signers.append((vid, sig, cbor([VOTE_TAG, network, epoch, root, count])))
    weight, total = check_signers(signers, committees[epoch], f"{what} (epoch {epoch})")
    return epoch, batch_id, len(signers), len(committees[epoch]), weight, total


def merkle_root_from_path(leaf, index, count, path, what):
    """RFC 9162 section 2.1.3.2 with BLAKE2b-256: the root the inclusion
    path leads to (the signature then says whether it is the signed root)."""
    if index >= count:
        fail(f"{what}: index {index} not below count {count}")
    fn, sn, r = index, count - 1, leaf
    for p in path:
        if sn == 0:
            fail(f"{what}: path longer than the tree")
        if fn & 1 or fn == sn:
            r = blake2b256(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = blake2b256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail(f"{what}: path shorter than the tree")
    return r


# ---- main ----------------------------------------------------------------------

def run(args):
    node = args.node.rstrip("/")
    g = load_genesis(args.genesis)
    network = g["network"]
    committee = g["committee"]
    check_committee_shape(committee, "genesis committee")

    status = get_json(f"{node}/v1/status")
    if status.get("network") != network:
        fail(f"the node is on network {status.get('network')!r}, genesis says {network!r}")
    if args.genesis_digest:
        genesis_digest = bytes.fromhex(args.genesis_digest)
        source = "given"
        if status.get("genesis") != args.genesis_digest.lower():
            fail(f"the node's genesis digest {status.get('genesis')} is not the given "
                 f"{args.genesis_digest.lower()}")
    else:
        # Computed from genesis.toml (docs/EPOCHS.md section 1); the node must agree.
        genesis_digest = g["digest"]
        source = "computed from genesis.toml"
        if status.get("genesis") != genesis_digest.hex():
            fail(f"the node's genesis digest {status.get('genesis')} is not {genesis_digest.hex()}, "
                 f"which genesis.toml gives")
    if len(genesis_digest) != 32:
        fail("the genesis digest is not 32 bytes")
    print(f"genesis {network}: {len(committee)} validators, weights "
          f"{sorted(committee.values(), reverse=True)}; genesis digest "
          f"{genesis_digest.hex()} ({source})")

    cert_raw = bytes.fromhex(args.certificate) if args.certificate else None
    latest = get_json(f"{node}/v1/checkpoints/latest")
    latest_epoch = want_uint(latest.get("epoch"), "checkpoints/latest epoch")
    upto = latest_epoch if args.upto is None else args.upto
    if upto > latest_epoch:
        fail(f"--upto {upto} is beyond the node's latest checkpoint {latest_epoch}")
    if cert_raw is not None:
        # a certificate of epoch e needs the checkpoints up to e - 1
        try:
            ce = cbor2.loads(cert_raw).get(2)
        except Exception:
            ce = None
        if is_uint(ce) and ce >= 1 and ce - 1 > upto:
            if ce - 1 > latest_epoch:
                fail(f"certificate of epoch {ce}: the node has checkpoints up to {latest_epoch} only")
            upto = ce - 1

    committees = {0: committee}
    previous_digest = genesis_digest
    previous_ts = None
    for n in range(0, upto + 1):
        url = f"{node}/v1/checkpoints/{n}"
        ctype, raw = http_get(url, accept="application/cbor")
        if ctype.split(";")[0].strip().lower() != "application/cbor":
            fail(f"GET {url} with Accept: application/cbor answered Content-Type {ctype!r}")
        if args.tamper and n == 0:
            first = cbor2.loads(raw)[2][0][1]
            pos = raw.rfind(first)
            raw = raw[:pos] + bytes([raw[pos] ^ 0x01]) + raw[pos + 1:]
            print(f"(tampered: flipped byte {pos} of checkpoint 0, in its first signature)")
        cp = decode_signed_checkpoint(raw, n)
        what = f"checkpoint {n}"
        if cp["epoch"] != n:
            fail(f"{what}: header says epoch {cp['epoch']}, asked for {n}")
        if cp["network"] != network:
            fail(f"{what}: network {cp['network']!r}, expected {network!r}")
        if cp["previous"] != previous_digest:
            fail(f"{what}: previous {cp['previous'].hex()} is not "
                 f"{'the genesis digest' if n == 0 else 'the digest of checkpoint ' + str(n - 1)} "
                 f"{previous_digest.hex()}")
        # EPOCHS.md section 2: timestamp >= timestamp(e-1) + epoch_seconds
        # (genesis's start_ms for epoch 0). Honest validators prevote only
        # such headers, so a certified header obeys it.
        base = previous_ts if n > 0 else g["start_ms"]
        if base is not None and cp["timestamp"] < base + 1000 * g["epoch_seconds"]:
            fail(f"{what}: timestamp {cp['timestamp']} is earlier than "
                 f"{base} + {g['epoch_seconds']} s")
        current = committees[n]
        commit = cbor([COMMIT_TAG, network, n, cp["round"], cp["digest"]])
        weight, total = check_signers(
            [(vid, sig, commit) for vid, sig in cp["sigs"]], current, what)
        check_committee_shape(cp["next_committee"], f"{what} next committee")
        j = get_json(url)
        cross_check_json(cp, j, n)
        committees[n + 1] = cp["next_committee"]
        changed = "" if cp["next_committee"] == current else \
            f"; committee of epoch {n + 1} changes: {len(current)} -> {len(cp['next_committee'])} seats"
        print(f"epoch {n} ok digest {cp['digest'].hex()} signers "
              f"{len(cp['sigs'])}/{len(current)} (weight {weight}/{total}, round {cp['round']}){changed}")
        previous_digest = cp["digest"]
        previous_ts = cp["timestamp"]

    if cert_raw is not None:
        e, bid, k, n, w, t = verify_certificate(cert_raw, committees, network, args.batch_epoch)
        print(f"certificate ok batch {bid.hex()} epoch {e} signers {k}/{n} (weight {w}/{t})")
    print(f"chain ok: epochs 0..{upto}, committee of epoch {upto + 1} has "
          f"{len(committees[upto + 1])} seats")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--genesis", required=True, help="the network's genesis.toml")
    ap.add_argument("--node", required=True, help="a node's HTTP API, e.g. http://127.0.0.1:8401")
    ap.add_argument("--upto", type=int, help="verify epochs 0..UPTO only (default: the latest)")
    ap.add_argument("--certificate", help="a finality certificate (hex CBOR) to check at the end")
    ap.add_argument("--batch-epoch", type=int,
                    help="the epoch the certificate must be of (default: its own key 2)")
    ap.add_argument("--genesis-digest",
                    help="the genesis digest as `kognita genesis new` printed it "
                         "(default: the node's /v1/status, unchecked)")
    ap.add_argument("--tamper", action="store_true",
                    help="flip one byte of checkpoint 0's first signature (must fail)")
    args = ap.parse_args()
    if args.upto is not None and args.upto < 0:
        ap.error("--upto must be at least 0")
    if args.batch_epoch is not None and args.certificate is None:
        ap.error("--batch-epoch needs --certificate")
    for name in ("certificate", "genesis_digest"):
        v = getattr(args, name)
        if v is not None:
            try:
                bytes.fromhex(v)
            except ValueError:
                ap.error(f"--{name.replace('_', '-')} is not hex")
    try:
        run(args)
    except VerifyError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except (OSError, tomllib.TOMLDecodeError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

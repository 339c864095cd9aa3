#!/usr/bin/env python3
"""This machine's limits, measured the way Kognita uses each part, for
docs/PERFORMANCE.md (run by `make bench`; prints one JSON object).

- Ed25519 verify: libsodium's crypto_sign_verify_detached (the library the
  bridge and nodes call) on a batch-sized message, one core, through ctypes.
- mosquitto QoS 1: mosquitto's own C clients (mosquitto_pub -l, mosquitto_sub)
  through a broker started here, with batch-sized messages.
- SQLite: rows shaped like the node's final batches (id, account, seq, a
  4.7 KB envelope, a certificate) inserted in transactions of 64 rows, WAL,
  synchronous=NORMAL, fsync on every commit's WAL write as the node does.
"""
import ctypes, ctypes.util, json, os, socket, sqlite3, subprocess, sys, tempfile, time

BATCH_BYTES = 4700      # a 64-transfer batch envelope, about
SECONDS = float(os.environ.get("LIMIT_SECONDS", "3"))


def ed25519_verify_rate():
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert lib.sodium_init() >= 0
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    lib.crypto_sign_keypair(pk, sk)
    message = os.urandom(BATCH_BYTES)
    signature = ctypes.create_string_buffer(64)
    lib.crypto_sign_detached(signature, None, message, ctypes.c_ulonglong(len(message)), sk)
    verify = lib.crypto_sign_verify_detached
    length = ctypes.c_ulonglong(len(message))
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        for _ in range(200):
            assert verify(signature, message, length, pk) == 0
        count += 200
    return count / (time.perf_counter() - start)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_qos1_rate(messages=20000):
    directory = tempfile.mkdtemp(prefix="kognita-limits-")
    port = free_port()
    config = os.path.join(directory, "mosquitto.conf")
    with open(config, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n"
                f"user {os.environ.get('USER') or 'root'}\n")
    broker = subprocess.Popen(["mosquitto", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        subscriber = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", "bench", "-C", str(messages),
                                       "-i", "bench-sub"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # subscribed before the first publish
        line = ("x" * (BATCH_BYTES - 1) + "\n").encode()
        start = time.perf_counter()
        publisher = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", "bench", "-l",
                                      "-M", "1000", "-i", "bench-pub"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(messages):
            publisher.stdin.write(line)
        publisher.stdin.close()
        subscriber.wait(timeout=300)
        elapsed = time.perf_counter() - start
        publisher.wait(timeout=60)
        return messages / elapsed
    finally:
        broker.terminate()
        broker.wait(timeout=10)


def sqlite_insert_rate():
    directory = tempfile.mkdtemp(prefix="kognita-limits-")
    db = sqlite3.connect(os.path.join(directory, "bench.sqlite"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE final_batch (account BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL, envelope BLOB NOT NULL,"
               " certificate BLOB NOT NULL, applied_at INTEGER NOT NULL, PRIMARY KEY (account, seq)) WITHOUT ROWID")
    envelope, certificate = os.urandom(BATCH_BYTES), os.urandom(300)
    rows, seq, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        db.execute("BEGIN")
        for _ in range(64):
            seq += 1
            db.execute("INSERT INTO final_batch VALUES (?,?,?,?,?,?)", (os.urandom(32), seq, os.urandom(32), envelope, certificate, seq))
        db.execute("COMMIT")
        os.fsync(os.open(os.path.join(directory, "bench.sqlite-wal"), os.O_RDONLY))
        rows += 64
    return rows / (time.perf_counter() - start)


def fdatasync_rate(seconds=2.0):
    """4 KiB appended and made durable with fdatasync, one after another: the
    ceiling of a spool or a group commit that syncs every write."""
    directory = tempfile.mkdtemp(prefix="kognita-limits-")
    path = os.path.join(directory, "fsync.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block, count = b"k" * 4096, 0
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            count += 1
    finally:
        os.close(fd)
        os.unlink(path)
        os.rmdir(directory)
    return count / (time.perf_counter() - start)


if __name__ == "__main__":
    result = {
        "ed25519_verifies_per_second_one_core": round(ed25519_verify_rate()),
        "mosquitto_qos1_messages_per_second": round(mosquitto_qos1_rate()),
        "sqlite_batch_rows_per_second": round(sqlite_insert_rate()),
        "fdatasync_per_second": round(fdatasync_rate()),
        "batch_bytes": BATCH_BYTES,
        "cores": os.cpu_count(),
    }
    json.dump(result, sys.stdout)
    print()

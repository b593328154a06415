"""Interoperability: a client we did not write, speaking to our endpoint.

The Rust tests of the built-in MQTT endpoint use rumqttc against a server
framed by rmqtt-codec, both crates we chose, so a misreading of MQTT or
Sparkplug B shared by the two sides would pass them. Here Eclipse Paho
(`paho-mqtt` 2.x), a client devices in the field really use, drives a real
`zhizao serve` over MQTT 3.1.1 and 5, and the outcome is checked only
through the HTTP API, as an integrator would see it. Sparkplug payloads go
through the small protobuf codec below, written from the field numbers of
`crates/zhizao-ingest/proto/sparkplug_b.proto`, not from generated code.

    ZHIZAO_BIN=target/debug/zhizao python -m unittest discover -s tests/interop -v
"""

import json
import os
import queue
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

# MQTT 5 reason codes (MQTT 5.0, 2.4).
SUCCESS = 0x00
NOT_AUTHORIZED = 0x87
PAYLOAD_FORMAT_INVALID = 0x99
BAD_USER_NAME_OR_PASSWORD = 0x86

# Sparkplug B data types (specification 3.0, 6.4.16).
INT64 = 4
UINT64 = 8
FLOAT = 9
DOUBLE = 10
BOOLEAN = 11
STRING = 12

# Per-device counters reach the registry every ~2 s.
COUNTER_WAIT_S = 20.0
MQTT_TIMEOUT_S = 15.0


# --------------------------------------------------------------------------
# A minimal protobuf codec for the Sparkplug B Payload and Metric fields
# used here (proto2 wire format: varint, fixed64, length-delimited, fixed32).
# --------------------------------------------------------------------------

WT_VARINT, WT_FIXED64, WT_LEN, WT_FIXED32 = 0, 1, 2, 5


def pb_varint(n):
    if n < 0:
        n += 1 << 64  # negative int64 travels as its 64-bit two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_key(field, wire_type):
    return pb_varint(field << 3 | wire_type)


def pb_uint(field, n):
    return pb_key(field, WT_VARINT) + pb_varint(n)


def pb_bytes(field, data):
    return pb_key(field, WT_LEN) + pb_varint(len(data)) + data


def pb_double(field, x):
    return pb_key(field, WT_FIXED64) + struct.pack("<d", x)


def pb_float(field, x):
    return pb_key(field, WT_FIXED32) + struct.pack("<f", x)


def pb_fields(buf):
    """Splits a message into (field, wire type, value) in order; value is
    an int (varint), bytes (length-delimited) or the raw 8/4 bytes of a
    fixed64/fixed32. Raises ValueError on anything malformed."""
    out, i, n = [], 0, len(buf)

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            if i >= n:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift >= 64:
                raise ValueError("varint longer than 10 bytes")

    def take(k):
        nonlocal i
        if i + k > n:
            raise ValueError("truncated field")
        chunk = bytes(buf[i:i + k])
        i += k
        return chunk

    while i < n:
        key = varint()
        field, wt = key >> 3, key & 7
        if field == 0:
            raise ValueError("field number 0")
        if wt == WT_VARINT:
            value = varint()
        elif wt == WT_FIXED64:
            value = take(8)
        elif wt == WT_LEN:
            value = take(varint())
        elif wt == WT_FIXED32:
            value = take(4)
        else:
            raise ValueError("unsupported wire type %d" % wt)
        out.append((field, wt, value))
    return out


def sp_metric(name=None, alias=None, datatype=None, value=None, timestamp=None):
    """A Sparkplug B Metric; the value field follows the data type."""
    out = b""
    if name is not None:
        out += pb_bytes(1, name.encode("utf-8"))
    if alias is not None:
        out += pb_uint(2, alias)
    if timestamp is not None:
        out += pb_uint(3, timestamp)
    if datatype is not None:
        out += pb_uint(4, datatype)
    if value is not None:
        if datatype == DOUBLE:
            out += pb_double(13, value)
        elif datatype == FLOAT:
            out += pb_float(12, value)
        elif datatype == BOOLEAN:
            out += pb_uint(14, 1 if value else 0)
        elif datatype == STRING:
            out += pb_bytes(15, value.encode("utf-8"))
        elif datatype in (INT64, UINT64):
            out += pb_uint(11, value)
        else:
            out += pb_uint(10, value)
    return out


def sp_payload(metrics, seq=None, timestamp=None):
    out = b""
    if timestamp is not None:
        out += pb_uint(1, timestamp)
    for m in metrics:
        out += pb_bytes(2, m)
    if seq is not None:
        out += pb_uint(3, seq)
    return out


def sp_decode(buf):
    """A Payload as a dict: timestamp, seq and metrics (each a dict with
    name, alias, timestamp, datatype and value when present)."""
    payload = {"metrics": []}
    for field, wt, v in pb_fields(buf):
        if field == 1 and wt == WT_VARINT:
            payload["timestamp"] = v
        elif field == 3 and wt == WT_VARINT:
            payload["seq"] = v
        elif field == 2 and wt == WT_LEN:
            m = {}
            for f, w, x in pb_fields(v):
                if f == 1 and w == WT_LEN:
                    m["name"] = x.decode("utf-8")
                elif f == 2 and w == WT_VARINT:
                    m["alias"] = x
                elif f == 3 and w == WT_VARINT:
                    m["timestamp"] = x
                elif f == 4 and w == WT_VARINT:
                    m["datatype"] = x
                elif f in (10, 11) and w == WT_VARINT:
                    m["value"] = x
                elif f == 12 and w == WT_FIXED32:
                    m["value"] = struct.unpack("<f", x)[0]
                elif f == 13 and w == WT_FIXED64:
                    m["value"] = struct.unpack("<d", x)[0]
                elif f == 14 and w == WT_VARINT:
                    m["value"] = bool(x)
                elif f == 15 and w == WT_LEN:
                    m["value"] = x.decode("utf-8")
            payload["metrics"].append(m)
    return payload


# --------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`zhizao serve` on free ports with a fresh data directory."""

    def __init__(self):
        binary = os.environ.get("ZHIZAO_BIN")
        if not binary:
            raise RuntimeError("set ZHIZAO_BIN to the zhizao binary (e.g. target/debug/zhizao)")
        self.binary = os.path.abspath(binary)
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("ZHIZAO_BIN is not an executable file: %s" % self.binary)
        self.password = secrets.token_hex(12)
        self.http_port = free_port()
        self.mqtt_port = free_port()
        self.base = "http://127.0.0.1:%d" % self.http_port
        self.tmp = tempfile.mkdtemp(prefix="zhizao-interop-")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc = None
        self.token = None

    def start(self, timeout=90.0):
        env = dict(os.environ, ZHIZAO_ADMIN_PASSWORD=self.password)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                self.binary, "serve",
                "--data-dir", os.path.join(self.tmp, "data"),
                "--listen", "127.0.0.1:%d" % self.http_port,
                "--mqtt-listen", "127.0.0.1:%d" % self.mqtt_port,
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("zhizao exited with %s at start:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("/healthz did not answer within %d s:\n%s" % (timeout, self.log_tail()))
            time.sleep(0.2)
        # If the MQTT port was taken, serve runs without the endpoint: fail
        # here rather than in every test.
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("MQTT endpoint not listening on %d:\n%s" % (self.mqtt_port, self.log_tail()))
                time.sleep(0.2)
        status, body = self.api("POST", "/api/v1/auth/login", {"username": "admin", "password": self.password}, auth=False)
        if status != 200:
            raise RuntimeError("login failed: %s %s" % (status, body))
        self.token = body["token"]

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise RuntimeError("zhizao did not stop within %d s of SIGTERM:\n%s" % (timeout, self.log_tail()))
            return self.proc.returncode
        finally:
            self.log.close()

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tail(self, chars=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-chars:]
        except OSError:
            return "(no log)"

    def api(self, method, path, body=None, auth=True):
        """(status, decoded JSON body or None)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if auth:
            req.add_header("authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        return status, (json.loads(raw) if raw else None)

    def register(self, code, topic_prefix):
        """Registers a device; returns (device, password)."""
        status, body = self.api("POST", "/api/v1/devices", {"code": code, "topic_prefix": topic_prefix})
        if status not in (200, 201):
            raise AssertionError("POST /api/v1/devices %s: %s %s" % (code, status, body))
        return body["device"], body["password"]

    def device(self, device_id):
        status, body = self.api("GET", "/api/v1/devices/%d" % device_id)
        if status != 200:
            raise AssertionError("GET /api/v1/devices/%d: %s %s" % (device_id, status, body))
        return body

    def wait_device(self, device_id, pred, timeout=COUNTER_WAIT_S):
        """Polls the device until `pred(device)` holds; returns the last
        device seen either way (the caller asserts on it)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.device(device_id)
            if pred(d) or time.monotonic() > deadline:
                return d
            time.sleep(0.25)

    def query(self, body):
        status, answer = self.api("POST", "/api/v1/series/query", body)
        if status != 200:
            raise AssertionError("POST /api/v1/series/query %s: %s %s" % (json.dumps(body), status, answer))
        return answer

    def points(self, measurement, where, field, start, end):
        """The raw points of the one series matching `where` and `field`."""
        answer = self.query({"measurement": measurement, "fields": [field], "where": where,
                             "start": start, "end": end})
        series = answer["series"]
        if not series:
            return []
        if len(series) != 1:
            raise AssertionError("expected one series for %s %s, got %s" % (where, field, series))
        return [tuple(p) for p in series[0]["points"]]


SERVER = None


def setUpModule():
    global SERVER
    server = Server()
    try:
        server.start()
    except BaseException:
        server.stop()
        server.cleanup()
        raise
    SERVER = server


def tearDownModule():
    if SERVER is None:
        return
    try:
        code = SERVER.stop()
        if code != 0:
            raise RuntimeError("zhizao exited with %s after SIGTERM:\n%s" % (code, SERVER.log_tail()))
    finally:
        SERVER.cleanup()


def now_ms():
    return int(time.time() * 1000)


# --------------------------------------------------------------------------
# A paho client with its callbacks recorded
# --------------------------------------------------------------------------


class Paho:
    def __init__(self, username, password, protocol, will=None):
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="interop-" + secrets.token_hex(6),
            protocol=protocol,
        )
        self.client.username_pw_set(username, password)
        if will is not None:
            topic, payload = will
            self.client.will_set(topic, payload, qos=1, retain=False)
        self.connack = None
        self.connected = threading.Event()
        self.acks = {}  # mid -> (reason code, properties)
        self.subacks = {}  # mid -> [reason codes]
        self.subscribed = threading.Condition()
        self.messages = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = reason_code
        self.connected.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self.acks[mid] = (reason_code, properties)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.subscribed:
            self.subacks[mid] = list(reason_codes)
            self.subscribed.notify_all()

    def start(self, port):
        """Connects and runs the network loop in paho's thread; fails the
        caller unless the CONNACK says success."""
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(MQTT_TIMEOUT_S):
            raise AssertionError("no CONNACK within %d s" % MQTT_TIMEOUT_S)
        if self.connack.is_failure:
            raise AssertionError("CONNECT refused: %s (%d)" % (self.connack, self.connack.value))

    def try_connect(self, port):
        """Connects without the background loop; returns the CONNACK's
        reason code (None when none came)."""
        self.client.connect("127.0.0.1", port, keepalive=30)
        deadline = time.monotonic() + MQTT_TIMEOUT_S
        while not self.connected.is_set() and time.monotonic() < deadline:
            if self.client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS and not self.connected.is_set():
                break
        return self.connack

    def publish(self, topic, payload, qos=1):
        """Publishes and waits for the PUBACK; returns its reason code and
        properties."""
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(MQTT_TIMEOUT_S)
        if not info.is_published():
            raise AssertionError("no PUBACK for %s within %d s" % (topic, MQTT_TIMEOUT_S))
        return self.acks.pop(info.mid)

    def subscribe(self, topic_filter):
        """Subscribes; returns the SUBACK's reason codes."""
        result, mid = self.client.subscribe(topic_filter, qos=0)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("SUBSCRIBE %s not sent: %s" % (topic_filter, result))
        with self.subscribed:
            if not self.subscribed.wait_for(lambda: mid in self.subacks, MQTT_TIMEOUT_S):
                raise AssertionError("no SUBACK for %s" % topic_filter)
            return self.subacks.pop(mid)

    def next_message(self, timeout=MQTT_TIMEOUT_S):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self):
        """A clean DISCONNECT (no will)."""
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def drop(self):
        """Ends the connection without DISCONNECT, as a crashed device
        would: the server must then publish the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


class ProtobufCodec(unittest.TestCase):
    """The test's own codec against bytes worked out by hand from the
    protobuf encoding rules, so the Sparkplug tests below do not rest on an
    encoder and decoder that are only consistent with each other."""

    def test_known_bytes(self):
        m = sp_metric(name="t", alias=300, datatype=DOUBLE, value=1.5)
        self.assertEqual(
            m,
            b"\x0a\x01t"                      # 1: name, length 1
            + b"\x10\xac\x02"                 # 2: alias 300 as a varint
            + b"\x20\x0a"                     # 4: datatype 10
            + b"\x69" + struct.pack("<d", 1.5),  # 13 (fixed64): 0x69 = 13 << 3 | 1
        )
        self.assertEqual(sp_metric(name="b", datatype=BOOLEAN, value=True), b"\x0a\x01b\x20\x0b\x70\x01")
        self.assertEqual(sp_metric(alias=1, datatype=FLOAT, value=2.0), b"\x10\x01\x20\x09\x65" + struct.pack("<f", 2.0))
        p = sp_payload([b"\x10\x01"], seq=255, timestamp=1)
        self.assertEqual(p, b"\x08\x01" + b"\x12\x02\x10\x01" + b"\x18\xff\x01")
        self.assertEqual(sp_decode(p), {"timestamp": 1, "seq": 255, "metrics": [{"alias": 1}]})
        self.assertEqual(
            sp_decode(sp_payload([m]))["metrics"],
            [{"name": "t", "alias": 300, "datatype": DOUBLE, "value": 1.5}],
        )
        with self.assertRaises(ValueError):
            pb_fields(b"\x12\x05ab")  # length 5, 2 bytes follow


class JsonTelemetry(unittest.TestCase):
    def test_mqtt311_qos1_points_are_queryable_once_acknowledged(self):
        device, password = SERVER.register("IOP-JSON-311", "zhizao/v1/IOP/L311")
        self.assertEqual(device["topic_prefix"], "zhizao/v1/IOP/L311")
        c = Paho(device["username"], password, MQTTProtocolVersion.MQTTv311)
        c.start(SERVER.mqtt_port)
        try:
            base = now_ms() - 60_000
            sent = []
            for i in range(5):
                ts = base + i * 1000
                values = {"spindle_temp": 60.0 + i * 0.25, "count_good": 1000 + i, "running": i % 2 == 0}
                sent.append((ts, values))
                reason, _ = c.publish("zhizao/v1/IOP/L311/M1/telemetry", json.dumps({"ts": ts, "values": values}))
                self.assertEqual(reason.value, SUCCESS)
        finally:
            c.stop()

        # No polling: the PUBACKs promise the points are already durable,
        # and history answers at once.
        where = {"site": "IOP", "line": "L311", "equipment": "M1"}
        start, end = base, base + 5000
        self.assertEqual(
            SERVER.points("telemetry", where, "spindle_temp", start, end),
            [(ts, v["spindle_temp"]) for ts, v in sent],
        )
        # Numbers are stored as floats, booleans as booleans.
        self.assertEqual(
            SERVER.points("telemetry", where, "count_good", start, end),
            [(ts, float(v["count_good"])) for ts, v in sent],
        )
        self.assertEqual(
            SERVER.points("telemetry", where, "running", start, end),
            [(ts, v["running"]) for ts, v in sent],
        )
        answer = SERVER.query({"measurement": "telemetry", "fields": ["spindle_temp"], "where": where,
                               "start": start, "end": end})
        self.assertEqual(answer["series"][0]["tags"], where)

        d = SERVER.wait_device(device["id"], lambda d: d["messages"] >= 5)
        self.assertEqual((d["messages"], d["points"], d["errors"]), (5, 15, 0), d)
        self.assertIsNone(d["last_error"], d)
        self.assertIsNotNone(d["last_seen"], d)

    def test_mqtt311_refused_messages_are_acknowledged_dropped_and_counted(self):
        device, password = SERVER.register("IOP-JSON-311-BAD", "zhizao/v1/IOP/L311B")
        c = Paho(device["username"], password, MQTTProtocolVersion.MQTTv311)
        c.start(SERVER.mqtt_port)
        ts = now_ms() - 30_000
        try:
            # 3.1.1 has no refusing PUBACK: both are acknowledged.
            reason, _ = c.publish("zhizao/v1/IOP/L311X/M1/telemetry",
                                  json.dumps({"ts": ts, "values": {"spindle_temp": 1.0}}))
            self.assertEqual(reason.value, SUCCESS)
            reason, _ = c.publish("zhizao/v1/IOP/L311B/M1/telemetry", b"{not json")
            self.assertEqual(reason.value, SUCCESS)
        finally:
            c.stop()
        self.assertEqual(SERVER.query({"measurement": "telemetry", "where": {"line": "L311X"}})["series"], [])
        self.assertEqual(SERVER.query({"measurement": "telemetry", "where": {"line": "L311B"}})["series"], [])
        d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 2)
        self.assertEqual((d["messages"], d["points"], d["errors"]), (2, 0, 2), d)
        self.assertIn("zhizao/v1/IOP/L311B/M1/telemetry", d["last_error"] or "", d)

    def test_mqtt5_puback_reason_codes_and_device_errors(self):
        device, password = SERVER.register("IOP-JSON-5", "zhizao/v1/IOP/L5")
        c = Paho(device["username"], password, MQTTProtocolVersion.MQTTv5)
        c.start(SERVER.mqtt_port)
        ts = now_ms() - 30_000
        good = json.dumps({"ts": ts, "values": {"spindle_temp": 70.5}})
        try:
            reason, _ = c.publish("zhizao/v1/IOP/L5/M1/telemetry", good)
            self.assertEqual(reason.value, SUCCESS, str(reason))

            # Outside the prefix, at a level boundary: L50 is not under L5.
            reason, props = c.publish("zhizao/v1/IOP/L50/M1/telemetry", good)
            self.assertEqual(reason.value, NOT_AUTHORIZED, str(reason))
            self.assertTrue(getattr(props, "ReasonString", ""), "PUBACK 0x87 carries no reason string")
            d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 1)
            self.assertEqual(d["errors"], 1, d)
            self.assertIn("outside the device's prefix", d["last_error"] or "", d)
            self.assertIn("zhizao/v1/IOP/L50/M1/telemetry", d["last_error"], d)

            reason, _ = c.publish("zhizao/v1/IOP/L5/M1/telemetry", b'{"ts": 1, "values": ')
            self.assertEqual(reason.value, PAYLOAD_FORMAT_INVALID, str(reason))
            d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 2)
            self.assertEqual(d["errors"], 2, d)
            self.assertIn("zhizao/v1/IOP/L5/M1/telemetry", d["last_error"] or "", d)
            self.assertNotIn("outside the device's prefix", d["last_error"], d)
            self.assertIsNotNone(d["last_error_at"], d)

            # Wrong type for a field: refused the same way, with the path.
            reason, _ = c.publish("zhizao/v1/IOP/L5/M1/telemetry",
                                  json.dumps({"ts": ts + 1, "values": {"spindle_temp": [1, 2]}}))
            self.assertEqual(reason.value, PAYLOAD_FORMAT_INVALID, str(reason))
            d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 3)
            self.assertEqual(d["errors"], 3, d)
            self.assertIn("spindle_temp", d["last_error"] or "", d)
        finally:
            c.stop()
        # Only the good message was stored; the refused ones count as
        # messages too.
        self.assertEqual(
            SERVER.points("telemetry", {"line": "L5", "equipment": "M1"}, "spindle_temp", ts - 1, ts + 10),
            [(ts, 70.5)],
        )
        self.assertEqual(SERVER.query({"measurement": "telemetry", "where": {"line": "L50"}})["series"], [])
        d = SERVER.wait_device(device["id"], lambda d: d["messages"] >= 4)
        self.assertEqual((d["messages"], d["points"], d["errors"]), (4, 1, 3), d)


class Credentials(unittest.TestCase):
    def test_wrong_password_is_refused_at_connect(self):
        device, password = SERVER.register("IOP-AUTH", "zhizao/v1/IOP/LAUTH")
        wrong = password + "x"
        for protocol in (MQTTProtocolVersion.MQTTv311, MQTTProtocolVersion.MQTTv5):
            with self.subTest(protocol=protocol.name):
                c = Paho(device["username"], wrong, protocol)
                try:
                    connack = c.try_connect(SERVER.mqtt_port)
                finally:
                    c.drop()
                self.assertIsNotNone(connack, "no CONNACK for a wrong password")
                # On 3.1.1 paho maps the return code to a reason code: only
                # return code 4 becomes "Bad user name or password" (0x86).
                self.assertEqual(connack.value, BAD_USER_NAME_OR_PASSWORD, str(connack))

        # An unknown user is refused the same way.
        c = Paho("default.NO-SUCH-DEVICE", password, MQTTProtocolVersion.MQTTv5)
        try:
            connack = c.try_connect(SERVER.mqtt_port)
        finally:
            c.drop()
        self.assertIsNotNone(connack)
        self.assertEqual(connack.value, BAD_USER_NAME_OR_PASSWORD, str(connack))

        # And the right password is accepted (so the refusals above are
        # about the password).
        c = Paho(device["username"], password, MQTTProtocolVersion.MQTTv5)
        c.start(SERVER.mqtt_port)
        c.stop()
        self.assertEqual(c.connack.value, SUCCESS)


class SparkplugEdgeNode(unittest.TestCase):
    """An edge node `N` of group `G` registered with prefix spBv1.0/G/N."""

    def edge(self, group, node, bd_seq=None):
        device, password = SERVER.register("IOP-SPB-%s-%s" % (group, node), "spBv1.0/%s/%s" % (group, node))
        will = None
        if bd_seq is not None:
            # NDEATH: bdSeq only, no seq and no timestamp (it is fixed at
            # CONNECT time; Sparkplug 3.0 says a death carries none).
            will = ("spBv1.0/%s/NDEATH/%s" % (group, node),
                    sp_payload([sp_metric(name="bdSeq", datatype=INT64, value=bd_seq)]))
        c = Paho(device["username"], password, MQTTProtocolVersion.MQTTv5, will=will)
        c.start(SERVER.mqtt_port)
        self.addCleanup(c.stop)
        return device, c

    def rebirth_request(self, c, group, node):
        """Waits for the platform's NCMD and returns its decoded payload."""
        msg = c.next_message()
        self.assertIsNotNone(msg, "no NCMD from the platform within %d s" % MQTT_TIMEOUT_S)
        self.assertEqual(msg.topic, "spBv1.0/%s/NCMD/%s" % (group, node))
        return sp_decode(msg.payload)

    def assert_rebirth(self, ncmd):
        rebirth = [m for m in ncmd["metrics"] if m.get("name") == "Node Control/Rebirth"]
        self.assertEqual(len(rebirth), 1, ncmd)
        self.assertEqual(rebirth[0].get("datatype"), BOOLEAN, ncmd)
        self.assertIs(rebirth[0].get("value"), True, ncmd)

    def births(self, c, group, node, bd_seq, t0, extra_aliases=()):
        nbirth = sp_payload([
            sp_metric(name="bdSeq", datatype=INT64, value=bd_seq),
            sp_metric(name="Node Control/Rebirth", alias=1, datatype=BOOLEAN, value=False),
            sp_metric(name="uptime_s", alias=2, datatype=DOUBLE, value=12.5),
        ], seq=0, timestamp=t0)
        reason, _ = c.publish("spBv1.0/%s/NBIRTH/%s" % (group, node), nbirth)
        self.assertEqual(reason.value, SUCCESS, "NBIRTH: %s" % reason)
        dbirth = sp_payload([
            sp_metric(name="spindle_temp", alias=10, datatype=DOUBLE, value=60.5),
            sp_metric(name="running", alias=11, datatype=BOOLEAN, value=True),
            sp_metric(name="count_good", alias=12, datatype=UINT64, value=100),
            sp_metric(name="feed_rate", alias=13, datatype=FLOAT, value=0.75),
        ] + list(extra_aliases), seq=1, timestamp=t0 + 1)
        reason, _ = c.publish("spBv1.0/%s/DBIRTH/%s/D1" % (group, node), dbirth)
        self.assertEqual(reason.value, SUCCESS, "DBIRTH: %s" % reason)

    def test_births_data_by_alias_rebirth_and_death(self):
        group, node, bd = "IOPG", "N1", 7
        device, c = self.edge(group, node, bd_seq=bd)
        self.assertEqual(c.subscribe("spBv1.0/%s/NCMD/%s/#" % (group, node))[0].value, 0)
        # Another node's commands are not this device's to read.
        self.assertEqual(c.subscribe("spBv1.0/%s/NCMD/OTHER/#" % group)[0].value, NOT_AUTHORIZED)

        t0 = now_ms() - 60_000
        self.births(c, group, node, bd, t0)
        ddata = sp_payload([
            sp_metric(alias=10, value=61.25, datatype=DOUBLE),
            sp_metric(alias=11, value=False, datatype=BOOLEAN),
            # Data type left out: the birth's type (UInt64) stands.
            sp_metric(alias=12) + pb_uint(11, 101),
            sp_metric(alias=13, value=1.5, datatype=FLOAT),
        ], seq=2, timestamp=t0 + 2)
        reason, _ = c.publish("spBv1.0/%s/DDATA/%s/D1" % (group, node), ddata)
        self.assertEqual(reason.value, SUCCESS, "DDATA: %s" % reason)

        where = {"site": group, "line": node, "equipment": "D1"}
        self.assertEqual(SERVER.points("telemetry", where, "spindle_temp", t0, t0 + 3),
                         [(t0 + 1, 60.5), (t0 + 2, 61.25)])
        self.assertEqual(SERVER.points("telemetry", where, "running", t0, t0 + 3),
                         [(t0 + 1, True), (t0 + 2, False)])
        self.assertEqual(SERVER.points("telemetry", where, "count_good", t0, t0 + 3),
                         [(t0 + 1, 100.0), (t0 + 2, 101.0)])
        self.assertEqual(SERVER.points("telemetry", where, "feed_rate", t0, t0 + 3),
                         [(t0 + 1, 0.75), (t0 + 2, 1.5)])
        self.assertEqual(SERVER.points("telemetry", where, "online", t0, t0 + 3), [(t0 + 1, True)])
        node_where = {"site": group, "line": node}
        self.assertEqual(SERVER.points("edge_node", node_where, "uptime_s", t0, t0 + 3), [(t0, 12.5)])
        # bdSeq and Node Control/* are session bookkeeping, not data.
        fields = {s["field"] for s in SERVER.query({"measurement": "edge_node", "where": node_where,
                                                     "start": t0, "end": t0 + 3})["series"]}
        self.assertEqual(fields, {"uptime_s", "online"})
        self.assertIsNone(c.next_message(timeout=0.5), "an NCMD before anything asked for one")

        # An alias no birth declared: the known metric is stored, and the
        # platform asks the edge node for a rebirth.
        ddata = sp_payload([
            sp_metric(alias=10, value=62.0, datatype=DOUBLE),
            sp_metric(alias=99, value=1.0, datatype=DOUBLE),
        ], seq=3, timestamp=t0 + 3)
        reason, _ = c.publish("spBv1.0/%s/DDATA/%s/D1" % (group, node), ddata)
        self.assertEqual(reason.value, SUCCESS, "DDATA with an unknown alias: %s" % reason)
        self.assert_rebirth(self.rebirth_request(c, group, node))
        self.assertEqual(SERVER.points("telemetry", where, "spindle_temp", t0 + 3, t0 + 4), [(t0 + 3, 62.0)])
        d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 1)
        self.assertEqual(d["errors"], 1, d)
        self.assertIn("unknown alias 99", d["last_error"] or "", d)

        # The edge node answers the NCMD with new births (seq from 0) that
        # declare alias 99; data by that alias is now stored.
        t1 = t0 + 10
        self.births(c, group, node, bd, t1,
                    extra_aliases=[sp_metric(name="vibration", alias=99, datatype=DOUBLE, value=0.25)])
        reason, _ = c.publish("spBv1.0/%s/DDATA/%s/D1" % (group, node),
                              sp_payload([sp_metric(alias=99, value=0.5, datatype=DOUBLE)], seq=2, timestamp=t1 + 2))
        self.assertEqual(reason.value, SUCCESS)
        self.assertEqual(SERVER.points("telemetry", where, "vibration", t0, t1 + 3),
                         [(t1 + 1, 0.25), (t1 + 2, 0.5)])

        # Bytes that are not a protobuf Payload (a metric whose length runs
        # past the end): refused with 0x99, counted, reason kept.
        reason, _ = c.publish("spBv1.0/%s/DDATA/%s/D1" % (group, node), b"\x08\x01\x12\x40\x0a\x03abc")
        self.assertEqual(reason.value, PAYLOAD_FORMAT_INVALID, str(reason))
        d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 2)
        self.assertEqual(d["errors"], 2, d)
        self.assertIn("not a Sparkplug B protobuf payload", d["last_error"] or "", d)

        # The edge node dies without DISCONNECT: the endpoint publishes its
        # NDEATH will, and the node and its device go offline.
        before_death = now_ms()
        c.drop()
        deadline = time.monotonic() + MQTT_TIMEOUT_S
        while True:
            online = SERVER.points("telemetry", where, "online", before_death - 1000, now_ms() + 60_000)
            if online or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual([v for _, v in online], [False], "device online after the NDEATH will: %s" % online)
        node_online = SERVER.points("edge_node", node_where, "online", before_death - 1000, now_ms() + 60_000)
        self.assertEqual([v for _, v in node_online], [False], node_online)

    def test_seq_gap_asks_for_rebirth(self):
        group, node = "IOPG", "N2"
        _, c = self.edge(group, node)
        self.assertEqual(c.subscribe("spBv1.0/%s/NCMD/%s/#" % (group, node))[0].value, 0)
        t0 = now_ms() - 60_000
        self.births(c, group, node, 1, t0)
        reason, _ = c.publish("spBv1.0/%s/DDATA/%s/D1" % (group, node),
                              sp_payload([sp_metric(alias=10, value=63.0, datatype=DOUBLE)], seq=2, timestamp=t0 + 2))
        self.assertEqual(reason.value, SUCCESS)
        self.assertIsNone(c.next_message(timeout=0.5), "an NCMD while seq was in order")
        # seq 3 and 4 never came.
        reason, _ = c.publish("spBv1.0/%s/DDATA/%s/D1" % (group, node),
                              sp_payload([sp_metric(alias=10, value=64.0, datatype=DOUBLE)], seq=5, timestamp=t0 + 5))
        self.assertEqual(reason.value, SUCCESS)
        self.assert_rebirth(self.rebirth_request(c, group, node))

    def test_broken_protobuf_is_payload_format_invalid(self):
        group, node = "IOPG", "N3"
        device, c = self.edge(group, node)
        for garbage in (b"\xff\xff\xff\xff", b"\x12\x40\x0a\x03abc", b"not protobuf at all"):
            with self.subTest(payload=garbage):
                reason, _ = c.publish("spBv1.0/%s/NBIRTH/%s" % (group, node), garbage)
                self.assertEqual(reason.value, PAYLOAD_FORMAT_INVALID, str(reason))
        d = SERVER.wait_device(device["id"], lambda d: d["errors"] >= 3)
        self.assertEqual((d["errors"], d["points"]), (3, 0), d)
        self.assertIn("not a Sparkplug B protobuf payload", d["last_error"] or "", d)


if __name__ == "__main__":
    unittest.main()

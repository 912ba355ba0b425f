"""Encoders for Loki push bodies using the standard library only: the protobuf PushRequest
(hand-encoded, wire-compatible with Loki's push.proto) and snappy block format (literal-only
blocks are valid snappy, so no compressor is needed)."""

import json


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wire_type, payload):
    key = _varint((num << 3) | wire_type)
    if wire_type == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _string(num, s):
    return _field(num, 2, s.encode() if isinstance(s, str) else s)


def encode_push_request(streams):
    """streams: [(labels_text, [(ts_ns, line, {metadata})...])] -> PushRequest bytes."""
    body = b""
    for labels, entries in streams:
        stream = _string(1, labels)
        for entry in entries:
            ts, line = entry[0], entry[1]
            md = entry[2] if len(entry) > 2 else {}
            tsmsg = _field(1, 0, _varint(ts // 1_000_000_000)) + \
                _field(2, 0, _varint(ts % 1_000_000_000))
            e = _field(1, 2, tsmsg) + _string(2, line)
            for k, v in md.items():
                e += _field(3, 2, _string(1, k) + _string(2, v))
            stream += _field(2, 2, e)
        body += _field(1, 2, stream)
    return body


def snappy_literal(data):
    """Snappy block format with literal elements only (valid, uncompressed)."""
    out = bytearray(_varint(len(data)))
    pos = 0
    while pos < len(data):
        chunk = data[pos:pos + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out.append(60 << 2)
            out.append(n)
        else:
            out.append(61 << 2)
            out += n.to_bytes(2, "little")
        out += chunk
        pos += len(chunk)
    return bytes(out)


def json_push(streams):
    """streams: [({labels}, [(ts_ns, line[, {md}])...])] -> JSON body bytes."""
    out = {"streams": []}
    for labels, entries in streams:
        values = []
        for e in entries:
            v = [str(e[0]), e[1]]
            if len(e) > 2 and e[2]:
                v.append(e[2])
            values.append(v)
        out["streams"].append({"stream": labels, "values": values})
    return json.dumps(out).encode()

#!/usr/bin/env python3
"""Where a JFR recording's time went: samples grouped by category and by top frame.

    bench/jfr-top.py FILE.jfr [TOP]          (TOP: how many top frames to list, default 15)

Reads jdk.ExecutionSample (threads running Java code: CPU) and jdk.NativeMethodSample (threads inside a
native method: a socket or file call, running or blocked in it) with `jfr print --json`. A sample's
category is the first one in CATEGORIES (specific work first, generic frames last) that matches any frame
of its stack: an array copy inside BLAKE3 counts as BLAKE3, a socket read inside the AWS SDK as a socket
read.
"""
import json
import re
import subprocess
import sys
from collections import Counter

CATEGORIES = [
    ("BLAKE3", r"Blake3"),
    ("MD5", r"provider\.MD5|Md5|MD5"),
    ("SHA-256 / HMAC (SigV4 signing)", r"provider\.SHA|HmacCore|Hmac"),
    ("other message digest", r"DigestBase|MessageDigest"),
    ("CRC32C / CRC32", r"java\.util\.zip\.CRC32|Crc32|CRC32C"),
    ("socket write", r"SocketDispatcher\.write|NioSocketImpl\.(implWrite|write)|socketWrite|SocketOutputStream"),
    ("socket read", r"SocketDispatcher\.read|NioSocketImpl\.(implRead|read|park)|socketRead|SocketInputStream"),
    ("file write / fsync", r"FileDispatcherImpl\.(write|pwrite|force)|FileChannelImpl\.(write|force)|"
                           r"FileOutputStream\.write|RandomAccessFile\.write|Fsync"),
    ("file read", r"FileDispatcherImpl\.(read|pread)|FileChannelImpl\.read|FileInputStream\.read|"
                  r"RandomAccessFile\.read"),
    ("XML (S3 requests and responses)", r"\.xml\.|Xml|XML|stax|\.sax"),
    ("HTTP client", r"org\.apache\.hc\.|software\.amazon\.awssdk\.http\."),
    ("AWS SDK (other)", r"software\.amazon\.awssdk\."),
    ("byte copying", r"System\.arraycopy|Arrays\.copyOf|ByteArrayInputStream|ByteArrayOutputStream"),
    ("powdb-backup (other)", r"io\.powdb\."),
    ("S3Proxy / Jetty", r"org\.gaul\."),
    ("JVM / class loading", r"ClassLoader|java\.lang\.invoke|jdk\.internal\.loader|java\.util\.zip\.Inflater"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]


def frames(event):
    stack = (event.get("values", {}).get("stackTrace") or {}).get("frames") or []
    out = []
    for frame in stack:
        method = frame.get("method") or {}
        type_name = ((method.get("type") or {}).get("name") or "?").replace("/", ".")
        out.append(f"{type_name}.{method.get('name', '?')}")
    return out


def category(stack):
    for name, pattern in COMPILED:
        if any(pattern.search(frame) for frame in stack):
            return name
    return "other"


def summarise(path, event_type, top):
    result = subprocess.run(["jfr", "print", "--json", "--events", event_type, path],
                            check=True, capture_output=True, text=True)
    events = json.loads(result.stdout)["recording"]["events"]
    stacks = [frames(e) for e in events]
    stacks = [s for s in stacks if s]
    total = len(stacks)
    print(f"## {event_type}: {total} samples")
    if not total:
        return
    print()
    print("| category | samples | share |")
    print("|---|---|---|")
    for name, count in Counter(category(s) for s in stacks).most_common():
        print(f"| {name} | {count} | {100 * count / total:.0f}% |")
    print()
    print("| top frame | samples | share |")
    print("|---|---|---|")
    for name, count in Counter(s[0] for s in stacks).most_common(top):
        print(f"| `{name}` | {count} | {100 * count / total:.0f}% |")
    print()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    for event_type in ("jdk.ExecutionSample", "jdk.NativeMethodSample"):
        summarise(sys.argv[1], event_type, top)


if __name__ == "__main__":
    main()

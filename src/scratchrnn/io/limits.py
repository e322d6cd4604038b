"""The resource limits every io reader keeps, and the bounded JSON parse they share.

A file on disk says how large its parts are before they are read, and a damaged or hostile file
can say anything. The readers compare what a file declares with these limits before they
allocate, so no file makes them take more memory or time than its real content needs:

* ``MAX_MEMBER_BYTES`` (4 GiB): the largest ``.npy`` array member an archive may hold, and never
  more than the memory available (``available_memory``); the members of one archive together may
  not declare more than the memory available either;
* ``DEFLATE_MAX_RATIO`` (1032): how many bytes deflate can produce from one compressed byte; a
  member declaring more than that from its compressed size is refused before it is inflated;
* ``MAX_DIRECTORY_BYTES`` (4 MiB, about 35,000 members): the largest zip directory read;
* ``MAX_JSON_BYTES`` (256 MiB) and ``MAX_JSON_DEPTH`` (64): the largest JSON text parsed
  (checkpoint metadata, module descriptions, JSON weight files) and how deeply it may nest.

Each limit is far above what a real model and its training run write: a trainer's checkpoint of a
four-layer LSTM nests five levels deep and holds 79 members.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import check_readable, one_line

__all__ = [
    "DEFLATE_MAX_RATIO",
    "MAX_DIRECTORY_BYTES",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MEMBER_BYTES",
    "available_memory",
    "json_depth",
    "loads_json",
    "member_byte_limit",
    "read_json",
]

MAX_MEMBER_BYTES = 4 << 30  # one array: a 32k x 32k float32 matrix, larger than any layer here
DEFLATE_MAX_RATIO = 1032  # deflate's ceiling: a 258-byte match costs at least 2 bits
MAX_DIRECTORY_BYTES = 4 << 20  # zip directory entries are >= 46 bytes: at most ~91k tiny members
MAX_JSON_BYTES = 256 << 20  # a history of a million logged steps fits
MAX_JSON_DEPTH = 64  # a trainer checkpoint nests 5 levels; json's own parser recurses at ~1000

_MEMINFO = Path("/proc/meminfo")


def available_memory() -> int | None:
    """Bytes a reader may still allocate: Linux's MemAvailable, capped by ``ulimit -v``; None if unknown.

    Elsewhere the physical memory (``os.sysconf``) stands in for MemAvailable.
    """
    found = None
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024  # reported in kB
                break
    except (OSError, ValueError, IndexError):
        found = None
    if found is None:
        try:
            found = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            found = None
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            found = soft if found is None else min(found, soft)
    except (ImportError, OSError, ValueError):
        pass
    return found


def member_byte_limit() -> int:
    """The largest array a reader accepts now: ``MAX_MEMBER_BYTES``, or less if less memory is free."""
    memory = available_memory()
    return MAX_MEMBER_BYTES if memory is None else min(MAX_MEMBER_BYTES, memory)


def json_depth(tree: Any) -> int:
    """How deeply a parsed JSON value nests (a scalar 0, ``[]`` 1, ``{"a": [1]}`` 2); no recursion."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, (list, tuple)):
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((item, depth + 1) for item in node)
    return deepest


def loads_json(data: bytes | str, subject: str) -> Any:
    """Parse JSON text within ``MAX_JSON_BYTES`` and ``MAX_JSON_DEPTH``; anything else is a ValueError.

    ``subject`` begins the one-line message: ``"metadata"`` gives ``metadata is not valid JSON:
    ...`` or ``metadata is JSON nested deeper than the 64 levels ...``, for the caller to place.
    """
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"{subject} is {len(data)} bytes of JSON, more than the {MAX_JSON_BYTES} "
                         "(MAX_JSON_BYTES) a reader parses")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        tree = json.loads(text)
    except RecursionError:  # only nesting exhausts the parser's stack
        depth = None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an int of over 4300 digits
        raise ValueError(f"{subject} is not valid JSON: {one_line(exc)}") from None
    else:
        depth = json_depth(tree)
    if depth is None or depth > MAX_JSON_DEPTH:
        found = "" if depth is None else f" ({depth} levels)"
        raise ValueError(f"{subject} is JSON nested deeper than the {MAX_JSON_DEPTH} levels "
                         f"(MAX_JSON_DEPTH) a reader accepts{found}")
    return tree


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The JSON value in the file ``path``, read within the limits above.

    ``what`` names the file expected (``"weights file"``). Missing: ``FileNotFoundError``; a
    directory, an empty or oversized file, text that is not UTF-8 JSON, or JSON nested too
    deeply: ``ValueError`` naming ``path``, on one line.
    """
    path = Path(path)
    check_readable(path, what)
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{path} is {size} bytes, more than the {MAX_JSON_BYTES} (MAX_JSON_BYTES) "
                         f"a {what} in JSON may hold")
    return loads_json(path.read_bytes(), str(path))

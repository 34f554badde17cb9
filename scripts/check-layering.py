#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""Checks the layering rules of tracering's public headers (include/tracering/README.md).

  1. Everything under include/tracering/ is a `.h` header (README files aside).
  2. The producer side (producer.h, tracepoint.h, abi.h, events.h, result.h, bitcoin/**,
     and any detail/ header they pull in) includes only standard C++/C headers and other
     producer-side tracering headers: every file of the node that traces pays for what
     these include, so no FlatBuffers, Cap'n Proto, Boost or system headers.
  3. Public headers include with angle brackets only (`<tracering/...>`), never "...", and
     every `<tracering/...>` they name exists (in include/, or generated from schemas/).
  4. Each header has the include guard TRACERING_<PATH>_H, e.g. bitcoin/net.h ->
     TRACERING_BITCOIN_NET_H.
  5. No file in the tree (Markdown and build directories aside) holds the marker "TODO"
     immediately followed by "(now)": STYLE.md's note for work that must not be merged.
  6. Sources keep their layers (SOURCE_RULES): src/common/ knows neither side; the producer
     (src/producer/) includes nothing of the consumer's and the consumer (src/consumer/)
     nothing of the producer's internals; src/catalogue/ needs only FlatBuffers and
     <tracering/catalogue.h>/<tracering/result.h>; tools/ use the public API only (no src/
     internals), and a tool includes no other tool's files but the shared tools/p2p/,
     tools/decode/ and tools/cli/.

Prints each violation as `file:line: message` and exits 1 if there is any.

Usage: scripts/check-layering.py [repo-root]
"""

import os
import re
import sys

# The public headers an embedder includes in the node, relative to include/tracering/.
PRODUCER_ROOTS = (
    "producer.h", "tracepoint.h", "abi.h", "events.h", "result.h", "ring_stats.h")
PRODUCER_DIRS = ("bitcoin/",)

# Standard C++20 library headers (and a few from C++23 for later), plus the C library
# headers in both spellings. POSIX and OS headers (<unistd.h>, <sys/...>, <windows.h>)
# are deliberately absent.
STD_CXX_HEADERS = {
    "algorithm", "any", "array", "atomic", "barrier", "bit", "bitset", "charconv", "chrono",
    "codecvt", "compare", "complex", "concepts", "condition_variable", "coroutine", "deque",
    "exception", "execution", "expected", "filesystem", "format", "forward_list", "fstream",
    "functional", "future", "initializer_list", "iomanip", "ios", "iosfwd", "iostream",
    "istream", "iterator", "latch", "limits", "list", "locale", "map", "memory",
    "memory_resource", "mutex", "new", "numbers", "numeric", "optional", "ostream", "print",
    "queue", "random", "ranges", "ratio", "regex", "scoped_allocator", "semaphore", "set",
    "shared_mutex", "source_location", "span", "spanstream", "sstream", "stack", "stacktrace",
    "stdexcept", "stop_token", "streambuf", "string", "string_view", "syncstream",
    "system_error", "thread", "tuple", "type_traits", "typeindex", "typeinfo",
    "unordered_map", "unordered_set", "utility", "valarray", "variant", "vector", "version",
}
STD_C_NAMES = (
    "assert", "complex", "ctype", "errno", "fenv", "float", "inttypes", "iso646", "limits",
    "locale", "math", "setjmp", "signal", "stdalign", "stdarg", "stdbool", "stddef", "stdint",
    "stdio", "stdlib", "string", "tgmath", "time", "uchar", "wchar", "wctype",
)
STD_HEADERS = (
    STD_CXX_HEADERS
    | {"c" + name for name in STD_C_NAMES}
    | {name + ".h" for name in STD_C_NAMES}
)

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]*)[>"]')
GENERATED_SCHEMA_RE = re.compile(r"^schemas/([A-Za-z0-9_]+)_generated\.h$")
# Headers CMake generates into the build tree (cmake/TraceringSchemas.cmake). All of them
# need only the standard library, so they count as producer-side.
GENERATED_HEADERS = {"schema_hash.h", "catalogue_generated.h", "detail/schema_bytes.h"}

# Built from two halves so that this file does not trip its own check.
TODO_MARKER = "TODO" + "(now)"
SKIP_DIRS = {".git", ".cache", "__pycache__", "node_modules", ".venv", "venv"}


# Internal folders of src/, as a quoted include names them ("common/shm.h").
SRC_LAYERS = ("common/", "producer/", "consumer/", "catalogue/")
# Public headers only the consumer side may use.
CONSUMER_HEADERS = ("tracering/consumer.h", "tracering/control.h", "tracering/schemas.h",
                    "tracering/catalogue.h")
# Folders of tools/ that are libraries shared by several tools, not tools themselves: the P2P
# protocol code, the event decoder of ringdump and the Python module, and the command line.
SHARED_TOOL_DIRS = ("p2p/", "decode/", "cli/")
# Public or generated headers that belong to the producer's internals.
PRODUCER_INTERNAL_HEADERS = ("tracering/detail/schema_bytes.h",)


def source_violations(rel, delim, included):
    """The rule-6 messages for `#include <included>` (delim '<') or "included" in file rel."""
    quoted = delim == '"'
    internal = quoted and included.startswith(SRC_LAYERS)
    if rel.startswith("src/common/"):
        if internal and not included.startswith("common/"):
            return ['src/common/ is below both sides and cannot include "%s"' % included]
    elif rel.startswith("src/producer/"):
        if (internal and included.startswith("consumer/")) or included in CONSUMER_HEADERS:
            return ["the producer cannot include the consumer's %s" % included]
    elif rel.startswith("src/consumer/"):
        if (internal and included.startswith("producer/")) or \
                included in PRODUCER_INTERNAL_HEADERS:
            return ["the consumer cannot include the producer's internal %s" % included]
    elif rel.startswith("src/catalogue/"):
        if internal or (included.startswith("tracering/") and included not in (
                "tracering/catalogue.h", "tracering/result.h")):
            return ["src/catalogue/ is built into tracering_catalogue_gen alone and may use "
                    "only <tracering/catalogue.h> and <tracering/result.h>, not %s" % included]
    elif rel.startswith("tools/"):
        tool = rel.split("/")[1]
        if internal:
            return ['tools use the public API only, not src/\'s "%s"' % included]
        if quoted and "/" in included and not included.startswith(
                (tool + "/",) + SHARED_TOOL_DIRS):
            return ['tools/%s/ cannot include another tool\'s "%s" (only tools/p2p/, '
                    "tools/decode/ and tools/cli/ are shared)" % (tool, included)]
    return []


class Checker:
    def __init__(self, root):
        self.root = root
        self.include_dir = os.path.join(root, "include", "tracering")
        self.violations = []

    def report(self, path, line, message):
        rel = os.path.relpath(path, self.root)
        self.violations.append((rel, line, message))

    # --- public headers -------------------------------------------------------------------

    def public_files(self):
        """Every file under include/tracering/, as paths relative to it ('bitcoin/net.h')."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.include_dir):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                out.append(os.path.relpath(full, self.include_dir).replace(os.sep, "/"))
        return out

    def tracering_header_exists(self, rel):
        if os.path.isfile(os.path.join(self.include_dir, rel)):
            return True
        if rel in GENERATED_HEADERS:
            return True
        m = GENERATED_SCHEMA_RE.match(rel)
        if m:
            return os.path.isfile(os.path.join(self.root, "schemas", m.group(1) + ".fbs"))
        return False

    @staticmethod
    def read_lines(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()

    @staticmethod
    def code_lines(lines):
        """Each line with its // and /* */ comments removed (string literals respected)."""
        out = []
        in_block = False
        for line in lines:
            code = []
            i = 0
            quote = None
            while i < len(line):
                ch = line[i]
                two = line[i:i + 2]
                if in_block:
                    if two == "*/":
                        in_block = False
                        i += 2
                    else:
                        i += 1
                    continue
                if quote:
                    code.append(ch)
                    if ch == "\\" and i + 1 < len(line):
                        code.append(line[i + 1])
                        i += 2
                        continue
                    if ch == quote:
                        quote = None
                    i += 1
                    continue
                if two == "//":
                    break
                if two == "/*":
                    in_block = True
                    code.append(" ")
                    i += 2
                    continue
                if ch == '"' or (ch == "'" and not (i > 0 and line[i - 1].isalnum())):
                    quote = ch  # a ' after a digit is a digit separator (100'000)
                code.append(ch)
                i += 1
            out.append("".join(code))
        return out

    @classmethod
    def includes(cls, lines):
        """(line number, delimiter, name) of each #include outside comments."""
        out = []
        for number, text in enumerate(cls.code_lines(lines), start=1):
            m = INCLUDE_RE.match(text)
            if m:
                out.append((number, m.group(1), m.group(2).strip()))
        return out

    @staticmethod
    def expected_guard(rel):
        stem = re.sub(r"[^A-Za-z0-9]", "_", rel[: -len(".h")])
        return "TRACERING_" + stem.upper() + "_H"

    def check_guard(self, path, rel, lines):
        guard = self.expected_guard(rel)
        directives = []  # (line number, text) of lines with code, comments removed
        for number, text in enumerate(self.code_lines(lines), start=1):
            text = text.strip()
            if text:
                directives.append((number, text))
        if len(directives) < 3:
            self.report(path, 1, "missing include guard %s" % guard)
            return
        first_no, first = directives[0]
        second_no, second = directives[1]
        last_no, last = directives[-1]
        if re.sub(r"\s+", " ", first) != "#ifndef " + guard:
            self.report(path, first_no,
                        "include guard must open with '#ifndef %s', found '%s'" % (guard, first))
            return
        if re.sub(r"\s+", " ", second).split(" ")[:2] != ["#define", guard]:
            self.report(path, second_no,
                        "'#ifndef %s' must be followed by '#define %s'" % (guard, guard))
        if not re.match(r"#\s*endif\b", last):
            self.report(path, last_no, "include guard %s is not closed by a final #endif" % guard)

    def producer_side(self, headers, includes_of):
        """The producer-side headers: the roots, bitcoin/**, and detail/ headers they use."""
        side = {h for h in headers if h in PRODUCER_ROOTS or h.startswith(PRODUCER_DIRS)}
        todo = list(side)
        while todo:
            header = todo.pop()
            for _, delim, name in includes_of.get(header, ()):
                if delim != "<" or not name.startswith("tracering/"):
                    continue
                target = name[len("tracering/"):]
                if target.startswith("detail/") and target in headers and target not in side:
                    side.add(target)
                    todo.append(target)
        return side

    def check_public_headers(self):
        if not os.path.isdir(self.include_dir):
            self.report(self.include_dir, 1, "public header directory is missing")
            return 0
        files = self.public_files()
        headers = []
        for rel in files:
            path = os.path.join(self.include_dir, rel)
            base = os.path.basename(rel)
            if rel.endswith(".h"):
                headers.append(rel)
            elif base.lower().startswith("readme"):
                continue
            else:
                self.report(path, 1, "only .h headers belong in include/tracering/ "
                                     "(sources go in src/, tests in tests/)")
        lines_of = {rel: self.read_lines(os.path.join(self.include_dir, rel)) for rel in headers}
        includes_of = {rel: self.includes(lines) for rel, lines in lines_of.items()}
        producer = self.producer_side(set(headers), includes_of)

        for rel in headers:
            path = os.path.join(self.include_dir, rel)
            self.check_guard(path, rel, lines_of[rel])
            for number, delim, name in includes_of[rel]:
                if delim == '"':
                    self.report(path, number, 'public headers include with <...>, never "%s"; '
                                              "write <tracering/...>" % name)
                    continue
                if name.startswith("tracering/"):
                    target = name[len("tracering/"):]
                    if not self.tracering_header_exists(target):
                        self.report(path, number, "<%s> does not exist in include/tracering/ "
                                                  "and is not generated" % name)
                    elif rel in producer and target not in producer | GENERATED_HEADERS:
                        self.report(path, number,
                                    "producer-side header includes <%s>, which is not "
                                    "producer-side (allowed: %s, bitcoin/*, detail/* they use)"
                                    % (name, ", ".join(PRODUCER_ROOTS)))
                    continue
                if rel in producer and name not in STD_HEADERS:
                    self.report(path, number,
                                "producer-side header includes <%s>; only standard C++/C "
                                "headers and producer-side <tracering/...> headers are allowed "
                                "(every node file that traces would pay for it)" % name)
        return len(headers)

    # --- sources --------------------------------------------------------------------------

    def check_sources(self):
        """Rule 6: #include lines of src/ and tools/ against SOURCE_RULES."""
        scanned = 0
        for top in ("src", "tools"):
            for dirpath, dirnames, filenames in os.walk(os.path.join(self.root, top)):
                dirnames.sort()
                for name in sorted(filenames):
                    if not name.endswith((".h", ".cpp")):
                        continue
                    path = os.path.join(dirpath, name)
                    rel = os.path.relpath(path, self.root).replace(os.sep, "/")
                    scanned += 1
                    for number, delim, included in self.includes(self.read_lines(path)):
                        for message in source_violations(rel, delim, included):
                            self.report(path, number, message)
        return scanned

    # --- TODO markers ---------------------------------------------------------------------

    def is_build_dir(self, dirpath, name):
        if name in SKIP_DIRS:
            return True
        full = os.path.join(dirpath, name)
        if os.path.abspath(dirpath) == os.path.abspath(self.root) and name.startswith("build"):
            return True
        return os.path.isfile(os.path.join(full, "CMakeCache.txt"))

    def check_todo_markers(self):
        marker = TODO_MARKER.encode()
        scanned = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not self.is_build_dir(dirpath, d))
            for name in sorted(filenames):
                if name.lower().endswith(".md"):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError as e:
                    self.report(path, 1, "cannot read: %s" % e)
                    continue
                if b"\0" in data[:8192]:
                    continue  # binary
                scanned += 1
                if marker not in data:
                    continue
                for number, line in enumerate(data.splitlines(), start=1):
                    if marker in line:
                        self.report(path, number,
                                    "%s marks work that must be done before merging"
                                    % TODO_MARKER)
        return scanned


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    checker = Checker(root)
    headers = checker.check_public_headers()
    sources = checker.check_sources()
    files = checker.check_todo_markers()
    for rel, line, message in sorted(checker.violations):
        print("%s:%d: %s" % (rel, line, message))
    if checker.violations:
        print("check-layering: %d violation(s)" % len(checker.violations), file=sys.stderr)
        return 1
    print("check-layering: ok (%d public headers, %d sources, %d files scanned for %s)"
          % (headers, sources, files, TODO_MARKER))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

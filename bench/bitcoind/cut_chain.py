#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""cut_chain.py BLOCKS_DIR OUT_DIR HEIGHT

Writes the first blocks of a regtest chain, the genesis block and heights 1..HEIGHT, from the
block files in BLOCKS_DIR (blk*.dat, obfuscated with BLOCKS_DIR/xor.dat if it is there) into
OUT_DIR/blk00000.dat, unobfuscated, with an all-zero OUT_DIR/xor.dat: a blocks folder that
`bitcoind -reindex` turns into a chain of that height. The blocks must be stored in chain
order (as a node that mined or received them one by one stores them); each block's parent
is checked. Used by bench/bitcoind/callgrind.sh. Exit codes: 0 done, 1 bad usage, 2 the
files do not hold that many blocks in order.
"""

import hashlib
import struct
import sys
from pathlib import Path

REGTEST_MAGIC = bytes.fromhex("fabfb5da")


def fail(message, code=2):
    print(f"cut_chain: error: {message}", file=sys.stderr)
    sys.exit(code)


def read_files(blocks_dir):
    """Yields the raw blocks of blk00000.dat, blk00001.dat, ... in file order."""
    key_path = blocks_dir / "xor.dat"
    key = key_path.read_bytes() if key_path.exists() else bytes(8)
    if len(key) != 8:
        fail(f"{key_path} is not an 8-byte key")
    number = 0
    while (path := blocks_dir / f"blk{number:05d}.dat").exists():
        data = path.read_bytes()
        if any(key):
            # The key applies by file offset.
            pattern = (key * (len(data) // 8 + 1))[:len(data)]
            data = (int.from_bytes(data, "little") ^ int.from_bytes(pattern, "little")).to_bytes(len(data), "little")
        pos = 0
        while pos + 8 <= len(data) and data[pos:pos + 4] == REGTEST_MAGIC:
            (size,) = struct.unpack_from("<I", data, pos + 4)
            yield data[pos + 8:pos + 8 + size]
            pos += 8 + size
        number += 1


def main():
    if len(sys.argv) != 4 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr if len(sys.argv) != 2 else sys.stdout)
        sys.exit(0 if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help") else 1)
    blocks_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        height = int(sys.argv[3])
    except ValueError:
        fail(f"HEIGHT '{sys.argv[3]}' is not a number", 1)
    if height < 1:
        fail("HEIGHT must be at least 1", 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    previous = None
    with open(out_dir / "blk00000.dat", "wb") as out:
        for block in read_files(blocks_dir):
            header_hash = hashlib.sha256(hashlib.sha256(block[:80]).digest()).digest()
            if previous is not None and block[4:36] != previous:
                fail(f"block {written} of the files does not follow block {written - 1}: the blocks are not in chain order")
            previous = header_hash
            out.write(REGTEST_MAGIC + struct.pack("<I", len(block)) + block)
            written += 1
            if written == height + 1:
                break
    if written != height + 1:
        fail(f"{blocks_dir} holds {max(written - 1, 0)} blocks after the genesis block, not {height}")
    (out_dir / "xor.dat").write_bytes(bytes(8))
    print(f"cut_chain: wrote the genesis block and heights 1-{height} to {out_dir / 'blk00000.dat'}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""Builds, once, the regtest chain that bench/bitcoind/blocks.sh and callgrind.sh validate.

The chain is made with Bitcoin Core's functional test framework: one regtest node, its
MiniWallet (ADDRESS_OP_TRUE: P2TR outputs spent through an OP_TRUE script path, so every
input costs the node a taproot commitment check, as a signature would) and blocks built
here and handed to the node with submitblock. It is deterministic: block times, the
transactions (a random.Random seeded with --seed) and so the block hashes are the same on
every run with the same options.

  heights 1..100    coinbase-only blocks (the first coinbase matures at 101)
  height 101        one transaction fans the first mature coinbase out into --fanout outputs
  heights 102..tip  a coinbase, one transaction spending the coinbase that just matured
                    (into 10 outputs), and then transactions up to --txs-per-block in all,
                    each spending 2-7 random confirmed UTXOs into 2-7 outputs (one more
                    output when the pool is under --pool UTXOs, one more input when over)

What is kept, in the cache folder (default <repo>/build-bitcoin/bench-chain/):

  regtest/blocks/, regtest/chainstate/   the node's block files and UTXO set at the tip
  chain.env      KEY=VALUE: HEIGHT, TIP, TXS (coinbases included), INPUTS (inputs spent,
                 = utxocache:spent events when all blocks connect), OUTPUTS (spendable
                 outputs created, coinbases included, = utxocache:add events), BLOCK_BYTES...
  heights.tsv    per height: height, txs, inputs, outputs, bytes, cumulative from height 1
                 (the expected events of a chain cut at that height)

With a valid cache present it only prints its summary (--force rebuilds it). The last
line printed is the cache's path.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

CHAIN_FORMAT = 1
REPO = Path(__file__).resolve().parent.parent.parent
FIRST_BLOCK_TIME = 1_700_000_000  # 2023-11-14; block h gets FIRST_BLOCK_TIME + 60 * h
COINBASE_MATURITY = 100


def parse_args():
    parser = argparse.ArgumentParser(
        prog="make_chain.py",
        description=__doc__,
        epilog="Exit codes: 0 the cache is ready; 1 bad usage or missing tool; 2 generation failed.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bitcoin-build", default=str(REPO / "build-bitcoin" / "bitcoin-build"),
                        help="Bitcoin Core build folder with bin/bitcoind, test/config.ini and "
                             "test/functional/ (default: %(default)s)")
    parser.add_argument("--bitcoind", help="the bitcoind to run (default: BITCOIN_BUILD/bin/bitcoind)")
    parser.add_argument("--cache", default=str(REPO / "build-bitcoin" / "bench-chain"),
                        help="where the chain is kept (default: %(default)s)")
    parser.add_argument("--blocks", type=int, default=1300,
                        help="height of the tip (default: %(default)s; at least 110)")
    parser.add_argument("--txs-per-block", type=int, default=200,
                        help="transactions per block after the ramp-up, coinbase excluded "
                             "(default: %(default)s)")
    parser.add_argument("--pool", type=int, default=4000,
                        help="number of confirmed UTXOs the generator steers toward (default: %(default)s)")
    parser.add_argument("--fanout", type=int, default=2000,
                        help="outputs of the first transaction, at height 101 (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache is valid")
    parser.add_argument("--check", action="store_true",
                        help="only check the cache: exit 0 if it is valid, 3 if it is missing or stale")
    args = parser.parse_args()
    if args.blocks < COINBASE_MATURITY + 10:
        parser.error("--blocks must be at least 110")
    if args.txs_per_block < 1 or args.pool < 10 or args.fanout < 1:
        parser.error("--txs-per-block, --pool and --fanout must be positive (--pool at least 10)")
    return args


def read_env(path):
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    return values


def cache_valid(cache):
    """The summary of a complete cache of this format, or None."""
    env = cache / "chain.env"
    if not env.is_file() or not (cache / "regtest" / "blocks" / "blk00000.dat").is_file() \
            or not (cache / "regtest" / "chainstate").is_dir() or not (cache / "heights.tsv").is_file():
        return None
    values = read_env(env)
    if values.get("FORMAT") != str(CHAIN_FORMAT):
        return None
    return values


def summary(cache, values):
    size = sum(f.stat().st_size for f in (cache / "regtest").rglob("*") if f.is_file())
    print(f"make_chain: chain cache {cache}: height {values['HEIGHT']}, {values['TXS']} transactions "
          f"({values['INPUTS']} inputs spent, {values['OUTPUTS']} outputs created: "
          f"{int(values['INPUTS']) + int(values['OUTPUTS'])} utxocache add+spent events), "
          f"{int(values['BLOCK_BYTES']) / 1e6:.1f} MB of blocks, {size / 1e6:.0f} MB on disk")
    print(cache)


def main():
    args = parse_args()
    cache = Path(args.cache).resolve()
    build = Path(args.bitcoin_build).resolve()
    values = cache_valid(cache)
    if args.check:
        sys.exit(0 if values else 3)
    if values and not args.force:
        summary(cache, values)
        return

    functional = build / "test" / "functional"
    config = build / "test" / "config.ini"
    bitcoind = Path(args.bitcoind).resolve() if args.bitcoind else build / "bin" / "bitcoind"
    for path, what in ((functional / "test_framework" / "test_framework.py", "Bitcoin Core's functional test framework"),
                       (config, "the functional tests' config.ini"),
                       (bitcoind, "bitcoind")):
        if not path.exists():
            print(f"make_chain: error: {what} not found at {path}; give --bitcoin-build DIR "
                  "(a Bitcoin Core build folder, as made by contrib/bitcoin-core/build-bitcoind.sh)",
                  file=sys.stderr)
            sys.exit(1)

    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=cache.name + ".partial.", dir=cache.parent))
    tmpdir = staging / "framework"
    os.environ["BITCOIND"] = str(bitcoind)
    sys.path.insert(0, str(functional))
    # The framework parses sys.argv itself; it gets only what it needs.
    sys.argv = [sys.argv[0], f"--configfile={config}", f"--tmpdir={tmpdir}",
                f"--cachedir={staging / 'framework-cache'}"]

    generator = make_generator_class()(__file__)
    generator.gen_args = args
    generator.staging = staging
    try:
        generator.main()
    except SystemExit as e:
        status = e.code
    else:
        status = 0
    if status != 0 or not (staging / "chain.env").is_file():
        shutil.rmtree(staging, ignore_errors=True)
        print(f"make_chain: error: generation failed (framework exit code {status}); see the log above",
              file=sys.stderr)
        sys.exit(2)

    shutil.rmtree(tmpdir, ignore_errors=True)
    shutil.rmtree(staging / "framework-cache", ignore_errors=True)
    if cache.exists():
        old = Path(tempfile.mkdtemp(prefix=cache.name + ".old.", dir=cache.parent))
        cache.rename(old / "chain")
        staging.rename(cache)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(cache)
    summary(cache, read_env(cache / "chain.env"))


def make_generator_class():
    # Imported here: sys.path points at the build's test/functional only now.
    from test_framework.blocktools import add_witness_commitment, create_block, create_coinbase
    from test_framework.messages import COIN
    from test_framework.test_framework import BitcoinTestFramework
    from test_framework.util import assert_equal
    from test_framework.wallet import MiniWallet

    class ChainGenerator(BitcoinTestFramework):
        def set_test_params(self):
            self.num_nodes = 1
            self.setup_clean_chain = True
            # Mainnet-like checks (regtest turns the consistency checks on by default), no
            # debug logging, and block files kept as a node keeps them.
            self.extra_args = [["-debug=0", "-checkblockindex=0", "-checkmempool=0", "-txindex=0",
                                "-dbcache=450"]]
            self.rpc_timeout = 600

        def run_test(self):
            args = self.gen_args
            node = self.nodes[0]
            rng = random.Random(args.seed)
            wallet = MiniWallet(node)
            script = wallet.get_output_script()
            pool = []             # confirmed, spendable UTXOs (MiniWallet's dicts)
            immature = {}         # height -> that height's coinbase UTXO
            tip = int(node.getbestblockhash(), 16)
            totals = {"txs": 0, "inputs": 0, "outputs": 0, "bytes": 0}
            rows = []
            started = time.time()

            def take(n):
                """n random UTXOs out of the pool (swap-remove: O(1) each)."""
                picked = []
                for _ in range(n):
                    i = rng.randrange(len(pool))
                    pool[i], pool[-1] = pool[-1], pool[i]
                    picked.append(pool.pop())
                return picked

            for height in range(1, args.blocks + 1):
                made = []
                if height > COINBASE_MATURITY:
                    coin = immature.pop(height - COINBASE_MATURITY)
                    outputs = args.fanout if height == COINBASE_MATURITY + 1 else 10
                    made.append(wallet.create_self_transfer_multi(utxos_to_spend=[coin], num_outputs=outputs))
                if height > COINBASE_MATURITY + 1:
                    while len(made) < args.txs_per_block and len(pool) >= 2:
                        n_in = rng.randint(2, 7)
                        n_out = rng.randint(2, 7)
                        if len(pool) < args.pool:
                            n_out += 1
                        elif len(pool) > args.pool:
                            n_in += 1
                        made.append(wallet.create_self_transfer_multi(
                            utxos_to_spend=take(min(n_in, len(pool))), num_outputs=n_out))
                fees = sum(int(t["fee"] * COIN) for t in made)
                coinbase = create_coinbase(height, script_pubkey=script, fees=fees)
                block = create_block(tip, coinbase, FIRST_BLOCK_TIME + 60 * height,
                                     txlist=[t["tx"] for t in made])
                add_witness_commitment(block)
                block.solve()
                raw = block.serialize()
                result = node.submitblock(raw.hex())
                if result is not None:
                    raise AssertionError(f"block at height {height} rejected: {result}")
                tip = block.hash_int

                immature[height] = {"txid": coinbase.txid_hex, "vout": 0,
                                    "value": Decimal(coinbase.vout[0].nValue) / COIN}
                for t in made:
                    pool.extend(t["new_utxos"])
                inputs = sum(len(t["tx"].vin) for t in made)
                # Spendable outputs: the coinbase's payout (not its OP_RETURN witness
                # commitment, which AddCoins skips) and every output of the others.
                outputs = 1 + sum(len(t["tx"].vout) for t in made)
                totals["txs"] += 1 + len(made)
                totals["inputs"] += inputs
                totals["outputs"] += outputs
                totals["bytes"] += len(raw)
                rows.append((height, totals["txs"], totals["inputs"], totals["outputs"], totals["bytes"]))
                if height % 100 == 0 or height == args.blocks:
                    elapsed = time.time() - started
                    self.log.info(f"height {height}/{args.blocks}: {totals['txs']} txs, "
                                  f"{totals['inputs']} inputs, {totals['outputs']} outputs, pool {len(pool)}, "
                                  f"{elapsed:.0f} s, about {elapsed * (args.blocks - height) / height:.0f} s to go")

            assert_equal(node.getblockcount(), args.blocks)
            assert_equal(node.getbestblockhash(), f"{tip:064x}")
            utxos = node.gettxoutsetinfo()["txouts"]
            assert_equal(utxos, len(pool) + len(immature))
            self.log.info(f"UTXO set: {utxos} (pool {len(pool)}, immature coinbases {len(immature)})")
            version = node.getnetworkinfo()["subversion"]
            self.stop_node(0)

            src = Path(node.datadir_path) / "regtest"
            dst = self.staging / "regtest"
            dst.mkdir(parents=True)
            for sub in ("blocks", "chainstate"):
                shutil.copytree(src / sub, dst / sub)
            with open(self.staging / "heights.tsv", "w", encoding="utf-8") as f:
                f.write("# height\ttxs\tinputs\toutputs\tbytes (cumulative from height 1)\n")
                for row in rows:
                    f.write("\t".join(str(v) for v in row) + "\n")
            with open(self.staging / "chain.env", "w", encoding="utf-8") as f:
                f.write("# Written by bench/bitcoind/make_chain.py; read by blocks.sh and callgrind.sh.\n")
                for key, value in (("FORMAT", CHAIN_FORMAT), ("HEIGHT", args.blocks), ("TIP", f"{tip:064x}"),
                                   ("TXS", totals["txs"]), ("INPUTS", totals["inputs"]),
                                   ("OUTPUTS", totals["outputs"]), ("BLOCK_BYTES", totals["bytes"]),
                                   ("UTXOS", utxos), ("TXS_PER_BLOCK", args.txs_per_block),
                                   ("POOL", args.pool), ("FANOUT", args.fanout), ("SEED", args.seed),
                                   ("FIRST_BLOCK_TIME", FIRST_BLOCK_TIME), ("MADE_WITH", version),
                                   ("SECONDS", int(time.time() - started))):
                    f.write(f"{key}={value}\n")

    return ChainGenerator


if __name__ == "__main__":
    main()

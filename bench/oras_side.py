"""oras-py's side of the artifact benchmark (run by ``bench/run.py --only artifact`` as a fresh
process, as ``dxf push-artifact``/``pull-artifact`` are): push every file of a directory as one
artifact, or pull one into a directory, with oras-py's ``OrasClient`` over plain HTTP.

    python bench/oras_side.py push HOST/REPO:TAG DIR
    python bench/oras_side.py pull HOST/REPO:TAG OUTDIR
"""

from __future__ import annotations

import os
import sys

import oras.client


def main(argv: list[str]) -> int:
    mode, target, directory = argv
    client = oras.client.OrasClient(insecure=True)
    if mode == "push":
        os.chdir(directory)  # oras-py takes titles from paths relative to the working directory
        client.push(target=target, files=sorted(os.listdir(".")))
    else:
        client.pull(target=target, outdir=directory)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

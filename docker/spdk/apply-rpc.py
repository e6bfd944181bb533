#!/usr/bin/env python3
"""Applies a list of SPDK JSON-RPC calls to a running SPDK app, in order, and waits until the
socket of every vhost controller they create exists.

usage: apply-rpc.py RPC_SOCKET SOCKET_DIR CONFIG   (CONFIG: a file path, or the JSON text)
"""
import json
import os
import sys
import time

sys.path.insert(0, "/opt/spdk/python")
from spdk.rpc.client import JSONRPCClient, JSONRPCException  # noqa: E402

CONTROLLER_METHODS = ("vhost_create_blk_controller", "vhost_create_scsi_controller")


def load(config):
    text = config
    if not config.lstrip().startswith(("[", "{")):
        with open(config, encoding="utf-8") as f:
            text = f.read()
    calls = json.loads(text)
    if isinstance(calls, dict):
        calls = calls.get("calls")
    if not isinstance(calls, list):
        raise SystemExit("SPDK_RPC_CONFIG: expected a JSON list of {\"method\", \"params\"}, got %r" % (type(calls).__name__,))
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            raise SystemExit("SPDK_RPC_CONFIG: call %d has no \"method\" string: %r" % (i, call))
    return calls


def main():
    rpc_sock, sock_dir, config = sys.argv[1:4]
    calls = load(config)
    client = JSONRPCClient(rpc_sock, timeout=60.0)
    sockets = []
    for i, call in enumerate(calls):
        method, params = call["method"], call.get("params")
        try:
            result = client.call(method, params) if params is not None else client.call(method)
        except JSONRPCException as e:
            raise SystemExit("SPDK_RPC_CONFIG: call %d %s %s failed: %s" % (i, method, json.dumps(params), e.message))
        print("jvirtio-spdk: %s %s -> %s" % (method, json.dumps(params), json.dumps(result)), flush=True)
        if method in CONTROLLER_METHODS:
            sockets.append(os.path.join(sock_dir, params["ctrlr"]))
    deadline = time.monotonic() + 30
    for path in sockets:
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise SystemExit("SPDK_RPC_CONFIG: controller socket %s did not appear within 30 s" % path)
            time.sleep(0.05)


if __name__ == "__main__":
    main()

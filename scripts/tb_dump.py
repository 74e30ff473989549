#!/usr/bin/env python3
"""Reads a TensorBoard logdir with TensorBoard's own code and prints JSON.

    python scripts/tb_dump.py LOGDIR            # event files, read record by record
    python scripts/tb_dump.py LOGDIR --serve    # also ask a real `tensorboard` server

Without --serve: for every run (a folder holding event files) its scalars
as {tag: [[step, value], ...]}, and the HParams session it declares
(hparams, group, end status), parsed with TensorBoard's protos. The reader
checks every record's CRC, so a malformed file is an error here.

With --serve: starts `tensorboard --logdir LOGDIR` on a free port, waits
for it to load, and adds what its HTTP API reports: the runs, the scalar
tags per run, and the HParams tab's experiment (hyperparameter names and
metric tags), as a user's browser would get them.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from tensorboard.backend.event_processing import event_file_loader
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2


def read_runs(logdir):
    runs = {}
    for root, _dirs, files in os.walk(logdir):
        events = sorted(f for f in files if "tfevents" in f)
        if not events:
            continue
        run = os.path.relpath(root, logdir)
        out = {"files": len(events), "scalars": {}, "hparams": None, "group": None, "status": None}
        for name in events:
            # The raw loader yields each record's bytes after checking its CRCs.
            for event in event_file_loader.EventFileLoader(os.path.join(root, name)).Load():
                for value in event.summary.value:
                    plugin = value.metadata.plugin_data
                    if plugin.plugin_name == "hparams":
                        data = plugin_data_pb2.HParamsPluginData.FromString(plugin.content)
                        kind = data.WhichOneof("data")
                        if kind == "session_start_info":
                            info = data.session_start_info
                            out["group"] = info.group_name
                            out["hparams"] = {
                                k: getattr(v, v.WhichOneof("kind")) for k, v in info.hparams.items()
                            }
                        elif kind == "session_end_info":
                            out["status"] = api_pb2.Status.Name(data.session_end_info.status)
                        continue
                    # The loader migrates simple_value into a scalar tensor.
                    if value.HasField("tensor"):
                        from tensorboard.util import tensor_util

                        v = float(tensor_util.make_ndarray(value.tensor))
                    else:
                        v = float(value.simple_value)
                    out["scalars"].setdefault(value.tag, []).append([event.step, v])
        runs[run] = out
    return runs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def serve(logdir):
    port = free_port()
    tb = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    proc = subprocess.Popen(
        [tb, "--logdir", logdir, "--port", str(port), "--host", "127.0.0.1", "--reload_interval", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        tags = {}
        while time.time() < deadline:
            try:
                tags = get(f"{base}/data/plugin/scalars/tags")
                if tags:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        experiment = get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
        return {
            "runs": sorted(get(f"{base}/data/runs")),
            "scalar_tags": {run: sorted(t) for run, t in tags.items()},
            "hparams": sorted(h["name"] for h in experiment.get("hparamInfos", [])),
            "metrics": sorted(m["name"]["tag"] for m in experiment.get("metricInfos", [])),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    logdir = sys.argv[1]
    out = {"runs": read_runs(logdir)}
    if "--serve" in sys.argv[2:]:
        out["server"] = serve(logdir)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads an output directory's TensorBoard event files with TensorBoard's own reader and
checks them against the run records: for each record under DIR/runs/, the events of
DIR/tensorboard/<id>/ hold exactly the expected scalar tags, with the record's steps and
values (as float32), and the hyper-parameter text names the run's settings.

Usage: scripts/tensorboard-check.py DIR   (needs `pip install tensorboard`)
Exit 0 when every run checks, 1 otherwise (the differences printed).
"""

import glob
import json
import os
import struct
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def expected_scalars(record):
    """tag -> list of (step, value), in the record's order."""
    out = {}
    for p in record["points"]:
        tag = "%s/%s/%s" % (p["split"], p["task"], p["metric"])
        out.setdefault(tag, []).append((p["step"], f32(p["value"])))
    for w in record.get("weights", []):
        out.setdefault("weights/%s" % w["task"], []).append((w["step"], f32(w["value"])))
    for t in record.get("telemetry", []):
        if t["value"] is None:
            continue
        tag = "conflict/" + t["measure"]
        for task in (t.get("task_a"), t.get("task_b")):
            if task is not None:
                tag += "/" + task
        if t.get("layer") is not None:
            tag += "/layer%d" % t["layer"]
        out.setdefault(tag, []).append((t["step"], f32(t["value"])))
    # The reader holds each tag's points by step (the writer orders the file by step).
    return {tag: sorted(points, key=lambda sv: sv[0]) for tag, points in out.items()}


def check_run(out, record):
    errors = []
    rid = record["id"]
    run_dir = os.path.join(out, "tensorboard", rid)
    files = glob.glob(os.path.join(run_dir, "*tfevents*"))
    if len(files) != 1:
        return ["%s: %d event files in %s" % (rid, len(files), run_dir)]
    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    expected = expected_scalars(record)
    if sorted(tags["scalars"]) != sorted(expected):
        missing = sorted(set(expected) - set(tags["scalars"]))
        extra = sorted(set(tags["scalars"]) - set(expected))
        errors.append("%s: scalar tags differ: missing %s, extra %s" % (rid, missing, extra))
    for tag in sorted(set(expected) & set(tags["scalars"])):
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        if got != expected[tag]:
            errors.append("%s: %s: %s != %s" % (rid, tag, got[:4], expected[tag][:4]))
    if "hparams" not in tags["tensors"]:
        errors.append("%s: no hparams text" % rid)
    else:
        text = acc.Tensors("hparams")[0].tensor_proto.string_val[0].decode()
        rows = {}
        for line in text.splitlines()[2:]:
            key, value = line.strip("|").split("|", 1)
            rows[key.strip()] = value.strip().strip("`").replace("\\|", "|")
        for key in ("id", "study", "suite", "algorithm", "architecture", "weighting",
                    "status", "hparams", "training"):
            if rows.get(key) != record[key]:
                errors.append("%s: hparams %s = %r, record %r" % (rid, key, rows.get(key), record[key]))
        if int(rows.get("replicate", -1)) != record["replicate"]:
            errors.append("%s: hparams replicate" % rid)
        if float(rows.get("fraction", "nan")) != record["fraction"]:
            errors.append("%s: hparams fraction" % rid)
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    records = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "runs", "*.json")))]
    if not records:
        print("tensorboard-check: no records under %s/runs" % out, file=sys.stderr)
        return 1
    errors = []
    scalars = 0
    for record in records:
        errors += check_run(out, record)
        scalars += sum(len(v) for v in expected_scalars(record).values())
    for e in errors:
        print(e, file=sys.stderr)
    print("tensorboard-check: %d runs, %d scalar points, %d errors" % (len(records), scalars, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

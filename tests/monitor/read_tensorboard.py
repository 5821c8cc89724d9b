"""Reads TensorBoard event files with TensorBoard's own reader and prints their scalars as JSON.

    python read_tensorboard.py <log dir>     ->  {"tag": [[step, value], ...], ...}  (last line)

The reader checks each record's framing and CRCs; a file it cannot read fails with a message.
"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

accumulator = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
accumulator.Reload()
scalars = {tag: [[e.step, e.value] for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
print(json.dumps(scalars))

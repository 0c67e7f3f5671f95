"""Loads SavedModels with Python TensorFlow and runs their serving_default signature.

Usage: python3 run_saved_models.py manifest.json
The manifest: {"models": [{"name": ..., "dir": ..., "out": folder for outputs,
"inputs": {key: {"file": raw little-endian values (a JSON list for "string"), "dtype": numpy's name, "shape": [...]}}}]}
Prints one JSON object: per model its signature as TensorFlow reads it (keys, dtypes, shapes),
and each output's file (raw values), dtype and shape; or the error that model raised.
One process for all models: importing TensorFlow takes seconds.
"""
import json
import os
import sys

import numpy as np
import tensorflow as tf


def spec_of(spec):
    return {"dtype": spec.dtype.name, "shape": [-1 if d is None else d for d in spec.shape.as_list()]}


def run(model):
    loaded = tf.saved_model.load(model["dir"])
    signature = loaded.signatures["serving_default"]
    inputs = {key: spec_of(spec) for key, spec in signature.structured_input_signature[1].items()}
    outputs = {key: spec_of(tensor) for key, tensor in signature.structured_outputs.items()}
    feeds = {}
    for key, given in model["inputs"].items():
        if given["dtype"] == "string":  # a JSON list of strings
            with open(given["file"], encoding="utf-8") as f:
                feeds[key] = tf.constant(np.array(json.load(f), dtype=object).reshape(given["shape"]), dtype=tf.string)
            continue
        values = np.fromfile(given["file"], dtype=np.dtype(given["dtype"]).newbyteorder("<"))
        feeds[key] = tf.constant(values.reshape(given["shape"]))
    results = {}
    for key, tensor in signature(**feeds).items():
        array = tensor.numpy()
        file = os.path.join(model["out"], f"{model['name']}.{key}.bin")
        if tensor.dtype == tf.string:  # written as a JSON list of UTF-8 strings
            with open(file, "w", encoding="utf-8") as f:
                json.dump([b.decode("utf-8") for b in array.reshape(-1)], f)
            results[key] = {"file": file, "dtype": "string", "shape": list(array.shape)}
            continue
        array.astype(array.dtype.newbyteorder("<")).tofile(file)
        results[key] = {"file": file, "dtype": array.dtype.name, "shape": list(array.shape)}
    return {"signature": {"inputs": inputs, "outputs": outputs}, "outputs": results}


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    report = {"tensorflow": tf.__version__, "models": {}}
    for model in manifest["models"]:
        try:
            report["models"][model["name"]] = run(model)
        except Exception as error:  # reported per model, so one bad export does not hide the others
            report["models"][model["name"]] = {"error": f"{type(error).__name__}: {error}"[:2000]}
    print(json.dumps(report))


main()

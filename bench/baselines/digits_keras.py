"""The bundled `digits` CNN rebuilt in Keras 3 from its TF.js layers artifacts.

Reads mock-server/models/digits/1/model.json (the topology and the weights manifest) and
weights.bin, builds the same layers in Keras (channels_last, so kernels and the flatten order
match TF.js as they are) and loads the same float32 weights. No conversion tool needed.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def _layer(class_name, config):
    name = config["name"]
    if class_name == "Conv2D":
        return keras.layers.Conv2D(
            filters=config["filters"],
            kernel_size=tuple(config["kernel_size"]),
            strides=tuple(config["strides"]),
            padding=config["padding"],
            dilation_rate=tuple(config["dilation_rate"]),
            activation=config["activation"],
            use_bias=config["use_bias"],
            data_format="channels_last",
            name=name,
        )
    if class_name == "MaxPooling2D":
        return keras.layers.MaxPooling2D(
            pool_size=tuple(config["pool_size"]),
            strides=tuple(config["strides"]),
            padding=config["padding"],
            data_format="channels_last",
            name=name,
        )
    if class_name == "Flatten":
        return keras.layers.Flatten(name=name)
    if class_name == "Dropout":
        return keras.layers.Dropout(rate=config["rate"], name=name)
    if class_name == "Dense":
        return keras.layers.Dense(units=config["units"], activation=config["activation"], use_bias=config["use_bias"], name=name)
    raise ValueError(f"layer type {class_name} is not supported by this converter")


def load_tfjs_layers_model(model_dir):
    """A Keras model with the topology and weights of a TF.js layers model (a single chain of layers)."""
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        artifacts = json.load(f)
    topology = artifacts["modelTopology"]
    config = topology.get("config", topology.get("model_config", {}).get("config"))
    layers = config["layers"]
    first = layers[0]
    if first["class_name"] != "InputLayer":
        raise ValueError("expected an InputLayer first")
    shape = first["config"]["batch_input_shape"][1:]
    x = inputs = keras.Input(shape=tuple(shape), name=first["name"], dtype="float32")
    for spec in layers[1:]:
        inbound = spec["inbound_nodes"]
        if len(inbound) != 1 or len(inbound[0]) != 1:
            raise ValueError(f"layer {spec['name']}: only single-input chains are supported")
        x = _layer(spec["class_name"], spec["config"])(x)
    model = keras.Model(inputs=inputs, outputs=x, name=config.get("name", "model"))

    # Weights: every manifest group's shards concatenated, entries in manifest order.
    values = {}
    for group in artifacts["weightsManifest"]:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            if entry.get("dtype", "float32") != "float32" or "quantization" in entry:
                raise ValueError(f"weight {entry['name']}: only unquantized float32 is supported")
            count = int(np.prod(entry["shape"])) if entry["shape"] else 1
            values[entry["name"]] = np.frombuffer(blob, dtype="<f4", count=count, offset=offset).reshape(entry["shape"])
            offset += count * 4
    for layer in model.layers:
        if not layer.weights:
            continue
        weights = []
        for variable in layer.weights:
            key = f"{layer.name}/{variable.name.split('/')[-1].split(':')[0]}"
            if key not in values:
                raise KeyError(f"no weight {key} in the TF.js manifest (have {sorted(values)})")
            weights.append(values[key])
        layer.set_weights(weights)
    return model

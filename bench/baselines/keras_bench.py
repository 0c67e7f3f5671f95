"""Python Keras on TensorFlow 2.21: one training epoch of the `digits` CNN and predict on a batch.

  python3 keras_bench.py --model-dir DIR --data FILE --samples N --batch-size 64 --predict-batch 256 --epochs 3

FILE holds N*784 float32 pixels then N int32 labels (little-endian), written by bench/run.ts
from the same MNIST split modelport trains on. Prints one JSON line.

Training: Adam(0.001), categorical cross-entropy, shuffle off, Keras' default compile
(on a CPU-only machine Keras 3 does not use XLA). One warm-up fit on the first batch
(traces the train step), then --epochs timed epochs over the N samples, each its own fit call;
the median is reported.
Predict: the same weights, batch of --predict-batch (and of 1); median of 30 calls after 5 warm-up calls,
for `model(x)` (eager) and for a `tf.function`. --export-savedmodel DIR also writes the model as a
SavedModel (signature serving_default: image → probabilities) for tfjs-node to run as one graph.
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

from digits_keras import load_tfjs_layers_model  # noqa: E402


def median_ms(fn, warmup=5, runs=30):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--predict-batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--export-savedmodel", help="also write the model (saved weights) as a SavedModel here")
    args = parser.parse_args()

    n = args.samples
    raw = open(args.data, "rb").read()
    x = np.frombuffer(raw, dtype="<f4", count=n * 784).reshape(n, 28, 28, 1)
    y = np.frombuffer(raw, dtype="<i4", count=n, offset=n * 784 * 4)
    y1 = keras.utils.to_categorical(y, 10).astype(np.float32)

    # Predict first, on the saved weights.
    model = load_tfjs_layers_model(args.model_dir)
    xb = np.ascontiguousarray(np.resize(x, (args.predict_batch, 28, 28, 1)))
    graph = tf.function(lambda t: model(t, training=False), input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
    eager_ms = median_ms(lambda: model(xb, training=False).numpy())
    function_ms = median_ms(lambda: graph(xb).numpy())
    x1 = np.ascontiguousarray(x[:1])
    eager_b1_ms = median_ms(lambda: model(x1, training=False).numpy())
    function_b1_ms = median_ms(lambda: graph(x1).numpy())

    if args.export_savedmodel:
        # One graph for the whole model: what modelport could run with a single TF session call.
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            name="serving_default",
            fn=lambda image: {"probabilities": model(image, training=False)},
            input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")],
        )
        archive.write_out(args.export_savedmodel, verbose=False)

    # Training on a fresh copy of the architecture (the weights do not change the cost).
    model = load_tfjs_layers_model(args.model_dir)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="categorical_crossentropy")
    b = args.batch_size
    t = time.perf_counter()
    model.fit(x[:b], y1[:b], batch_size=b, epochs=1, shuffle=False, verbose=0)
    warmup_s = time.perf_counter() - t
    epochs = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        model.fit(x, y1, batch_size=b, epochs=1, shuffle=False, verbose=0)
        epochs.append(time.perf_counter() - t)
    epoch_s = statistics.median(epochs)

    print(json.dumps({
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "samples": n,
        "batch_size": b,
        "train_warmup_s": warmup_s,
        "train_epoch_s": epoch_s,
        "train_epochs_s": epochs,
        "predict_batch": args.predict_batch,
        "predict_eager_ms": eager_ms,
        "predict_function_ms": function_ms,
        "predict_b1_eager_ms": eager_b1_ms,
        "predict_b1_function_ms": function_b1_ms,
    }), flush=True)


if __name__ == "__main__":
    main()

"""Writes tensorflow-op-names.ts: every op registered in Python TensorFlow's C library.

Run with the TensorFlow version native serving uses (the tensorflow-cpu wheel of
runtime/native/prepare.mjs), e.g. `PYTHONPATH=.cache/python-tf-2.21.0 python3 mock-server/runtime/tensorflow-op-names.py`.
Upload preflight refuses a SavedModel whose graph names an op outside this list: this TensorFlow
cannot run it, and Triton's or TF Serving's TensorFlow could not either without the custom op's library.
"""
import os
import textwrap

import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api

ops = op_def_pb2.OpList()
ops.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
names = sorted({op.name for op in ops.op})
lines = textwrap.wrap(" ".join(names), 130, break_on_hyphens=False)
body = "\n".join(lines)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tensorflow-op-names.ts")
with open(out, "w") as f:
    f.write(
        f"""/**
 * The {len(names)} ops registered in TensorFlow {tf.__version__}'s library (TF_GetAllOpList), written by
 * tensorflow-op-names.py: an op outside them cannot run here, nor on Triton or TF Serving without its library.
 */
export const TENSORFLOW_VERSION_OF_OPS = '{tf.__version__}';

export const TENSORFLOW_OP_NAMES: ReadonlySet<string> = new Set(
  `
{body}
`
    .trim()
    .split(/\\s+/),
);
"""
    )
print(f"{len(names)} ops of TensorFlow {tf.__version__} written to {out}")

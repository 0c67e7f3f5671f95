"""FastAPI + uvicorn + TensorFlow 2.21 (Keras 3) serving the bundled `digits` CNN.

The baseline a Python user would write instead of modelport: the same weights (read from the
TF.js artifacts by digits_keras.py), an Open Inference Protocol shaped JSON endpoint
(POST /v2/models/digits/infer) validated by pydantic, and the readiness probe.

  --mode eager      runs `model(x, training=False)` per request (Keras 3 eager call)
  --mode function   runs a `tf.function` (traced once, input_signature [None, 28, 28, 1]) per request
  --handler sync    a plain `def` endpoint (FastAPI runs it in its thread pool; TF releases the GIL)
  --handler async   an `async def` endpoint (runs on the event loop)

Started by bench/run.ts with PYTHONPATH=bench/.pydeps; prints "READY <url>" once listening.
"""
import argparse
import asyncio
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from digits_keras import load_tfjs_layers_model  # noqa: E402


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]
    parameters: dict | None = None


class RequestOutput(BaseModel):
    name: str
    parameters: dict | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None
    parameters: dict | None = None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--mode", choices=["eager", "function"], default="eager")
    parser.add_argument("--handler", choices=["sync", "async"], default="sync")
    args = parser.parse_args()

    model = load_tfjs_layers_model(args.model_dir)
    if args.mode == "function":
        graph = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
        run = lambda x: graph(x).numpy()  # noqa: E731
    else:
        run = lambda x: model(x, training=False).numpy()  # noqa: E731
    run(np.zeros((1, 28, 28, 1), np.float32))  # warm-up / trace

    def predict(request: InferenceRequest) -> dict:
        if len(request.inputs) != 1 or request.inputs[0].name != "image" or request.inputs[0].datatype != "FP32":
            raise HTTPException(status_code=400, detail="expected one FP32 input named 'image'")
        tensor = request.inputs[0]
        if len(tensor.shape) != 4 or tensor.shape[1:] != [28, 28, 1]:
            raise HTTPException(status_code=400, detail="shape must be [n, 28, 28, 1]")
        x = np.asarray(tensor.data, dtype=np.float32)
        if x.size != int(np.prod(tensor.shape)):
            raise HTTPException(status_code=400, detail="data length does not match the shape")
        y = run(x.reshape(tensor.shape))
        response = {
            "model_name": "digits",
            "model_version": "1",
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": list(y.shape), "data": y.ravel().tolist()}],
        }
        if request.id is not None:
            response["id"] = request.id
        return response

    app = FastAPI()

    @app.get("/v2/health/ready")
    def ready():
        return {"ready": True}

    if args.handler == "async":
        @app.post("/v2/models/digits/infer")
        async def infer_async(request: InferenceRequest):
            return predict(request)
    else:
        @app.post("/v2/models/digits/infer")
        def infer_sync(request: InferenceRequest):
            return predict(request)

    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    async def serve():
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        print(f"READY http://{args.host}:{args.port} tensorflow {tf.__version__} mode {args.mode} handler {args.handler}", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()

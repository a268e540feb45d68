"""Talking to a TF Serving model server: gRPC PredictRequests and REST JSON bodies.

Needs only `tensorflow-serving-api` (and `grpcio`, which it brings); nothing here imports
the model code, so a client machine installs no more than that.

Example (server started as the README shows):

    from albert_tf.export.client import GrpcClient, RestClient
    rest = RestClient("http://localhost:8501", "sst-2")
    rest.predict({"text_a": ["a gripping, funny film", "dull"]})["label"]
    grpc_client = GrpcClient("localhost:8500", "sst-2")
    grpc_client.predict({"text_a": ["a gripping, funny film"]})["probabilities"]
"""

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

DEFAULT_SIGNATURE = "serving_default"
Inputs = Mapping[str, Union[np.ndarray, Sequence[Any]]]


class ServingError(RuntimeError):
    """The model server refused a request; the message is the server's."""


def predict_request(model_name: str, inputs: Inputs, signature_name: str = DEFAULT_SIGNATURE,
                    version: Optional[int] = None) -> predict_pb2.PredictRequest:
    """A gRPC PredictRequest; `inputs` maps input names to batched values (strings for
    text, int32 for ids)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        array = np.asarray(value)
        if array.dtype.kind in "iu":
            array = array.astype(np.int32)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def request_inputs(request: predict_pb2.PredictRequest) -> Dict[str, np.ndarray]:
    """The inputs of a PredictRequest (or of a warm-up record's) as arrays."""
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def parse_predict_response(response: predict_pb2.PredictResponse) -> Dict[str, np.ndarray]:
    """Output name -> array; string outputs come back as `str`."""
    return {name: _decoded(tf.make_ndarray(proto)) for name, proto in response.outputs.items()}


def _decoded(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:
        return np.vectorize(lambda value: value.decode("utf-8"), otypes=[object])(array)
    return array


def rest_request_body(inputs: Inputs, signature_name: str = DEFAULT_SIGNATURE) -> str:
    """The JSON body of a REST `:predict` call in the row ("instances") format."""
    columns = {name: np.asarray(value).tolist() for name, value in inputs.items()}
    sizes = {name: len(values) for name, values in columns.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every input needs the same number of rows, got {sizes}")
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return json.dumps({"signature_name": signature_name, "instances": rows})


def parse_rest_response(body: Union[str, bytes],
                        single_output_name: str = "output") -> Dict[str, np.ndarray]:
    """Output name -> array from a REST `:predict` answer ("predictions" rows). A signature
    with one output answers bare values; they are returned under `single_output_name`."""
    answer = json.loads(body)
    if "error" in answer:
        raise ServingError(answer["error"])
    rows = answer["predictions"]
    if rows and isinstance(rows[0], dict):
        return {name: np.array([row[name] for row in rows]) for name in rows[0]}
    return {single_output_name: np.array(rows)}


class RestClient:
    """Calls `<url>/v1/models/<model_name>[/versions/<v>]:predict`.

    Args:
        url: The server's REST address, e.g. `http://localhost:8501`.
        model_name: The folder name under the export directory.
        version: A fixed version; None lets the server pick its newest.
        timeout: Seconds to wait for an answer.
    """

    def __init__(self, url: str, model_name: str, version: Optional[int] = None,
                 timeout: float = 30.0):
        path = f"/v1/models/{model_name}" + (f"/versions/{version}" if version else "")
        self.endpoint = url.rstrip("/") + path + ":predict"
        self.timeout = timeout

    def predict(self, inputs: Inputs, signature_name: str = DEFAULT_SIGNATURE,
                single_output_name: str = "output") -> Dict[str, np.ndarray]:
        body = rest_request_body(inputs, signature_name).encode("utf-8")
        request = urllib.request.Request(self.endpoint, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return parse_rest_response(answer.read(), single_output_name)
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError):
                message = text
            raise ServingError(f"{self.endpoint}: HTTP {error.code}: {message}") from None


class GrpcClient:
    """Calls PredictionService/Predict on `target` (`host:port`, 8500 by default)."""

    def __init__(self, target: str, model_name: str, version: Optional[int] = None,
                 timeout: float = 30.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.channel = grpc.insecure_channel(target)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.model_name, self.version, self.timeout = model_name, version, timeout

    def predict(self, inputs: Inputs,
                signature_name: str = DEFAULT_SIGNATURE) -> Dict[str, np.ndarray]:
        import grpc

        request = predict_request(self.model_name, inputs, signature_name, self.version)
        try:
            response = self.stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ServingError(f"{error.code().name}: {error.details()}") from None
        return parse_predict_response(response)

    def close(self) -> None:
        self.channel.close()

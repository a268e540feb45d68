"""Talking to a TF Serving model server: gRPC PredictRequests and REST JSON bodies.

The REST functions need only NumPy and the standard library; the gRPC ones need
`tensorflow-serving-api` (and `grpcio`, which it brings), imported when first used. Nothing
here imports the model code, so a client machine installs no more than that.

Example (server started as the README shows):

    from albert_tf.export.client import GrpcClient, RestClient
    rest = RestClient("http://localhost:8501", "sst-2")
    rest.predict({"text_a": ["a gripping, funny film", "dull"]})["label"]
    grpc_client = GrpcClient("localhost:8500", "sst-2")
    grpc_client.predict({"text_a": ["a gripping, funny film"]})["probabilities"]
"""

import base64
import json
import urllib.error
import urllib.request
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from albert_tf.errors import AlbertTfError

DEFAULT_SIGNATURE = "serving_default"
Inputs = Mapping[str, Union[np.ndarray, Sequence[Any]]]
# The exported signatures' inputs: what an empty list (which has no dtype of its own)
# stands for, and the range integer ids must fit.
INPUT_DTYPES = {"text_a": np.object_, "text_b": np.object_, "input_ids": np.int32,
                "input_mask": np.int32, "segment_ids": np.int32}
_INT32 = np.iinfo(np.int32)


class ServingError(AlbertTfError, RuntimeError):
    """The model server refused a request; the message is the server's."""


def input_array(name: str, value, dtypes: Optional[Mapping[str, Any]] = None) -> np.ndarray:
    """`value` as the array a signature input takes: integers checked to fit int32 and
    cast, an empty list typed by `dtypes` (else `INPUT_DTYPES`); ValueError otherwise.

    >>> input_array("input_ids", [[2, 2**32 + 5]])
    Traceback (most recent call last):
    ...
    ValueError: input 'input_ids': 4294967301 does not fit int32
    >>> input_array("text_a", []).dtype
    dtype('O')
    """
    try:
        array = np.asarray(value)
    except UnicodeDecodeError:  # bytes that are not ASCII, beside str
        array = np.asarray(value, dtype=object)
    if array.dtype.kind in "SU":  # kept as given: str stays str, bytes stay bytes
        array = np.asarray(value, dtype=object)
    if array.size == 0 and array.dtype == np.float64:  # what np.asarray([]) gives
        dtype = (dtypes or {}).get(name, INPUT_DTYPES.get(name))
        if dtype is None:
            raise ValueError(f"input {name!r} is empty, so its type is unknown: pass "
                             f"dtypes={{{name!r}: ...}}")
        return np.zeros(array.shape, dtype)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
            bad = array.max() if array.max() > _INT32.max else array.min()
            raise ValueError(f"input {name!r}: {bad} does not fit int32")
        return array.astype(np.int32)
    return array


def predict_request(model_name: str, inputs: Inputs, signature_name: str = DEFAULT_SIGNATURE,
                    version: Optional[int] = None, dtypes: Optional[Mapping[str, Any]] = None):
    """A gRPC PredictRequest; `inputs` maps input names to batched values (strings for
    text, int32 for ids; see `input_array`)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        array = input_array(name, value, dtypes)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(
            array, dtype=tf.string if array.dtype == np.object_ else None))
    return request


def request_inputs(request) -> Dict[str, np.ndarray]:
    """The inputs of a PredictRequest (or of a warm-up record's) as arrays."""
    import tensorflow as tf

    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def parse_predict_response(response) -> Dict[str, np.ndarray]:
    """Output name -> array; string outputs come back as `str`."""
    import tensorflow as tf

    return {name: _decoded(tf.make_ndarray(proto)) for name, proto in response.outputs.items()}


def _decoded(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:
        return np.vectorize(lambda value: value.decode("utf-8"), otypes=[object])(array)
    return array


def _json_value(value):
    """Bytes travel as TF Serving's `{"b64": ...}` objects; everything else as JSON."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


def rest_request_body(inputs: Inputs, signature_name: str = DEFAULT_SIGNATURE,
                      dtypes: Optional[Mapping[str, Any]] = None) -> str:
    """The JSON body of a REST `:predict` call in the row ("instances") format (the
    columnar "inputs" format for an empty batch, which has no rows to list)."""
    columns = {name: _json_value(input_array(name, value, dtypes).tolist())
               for name, value in inputs.items()}
    sizes = {name: len(values) for name, values in columns.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every input needs the same number of rows, got {sizes}")
    if not next(iter(sizes.values()), 0):
        return json.dumps({"signature_name": signature_name, "inputs": columns})
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

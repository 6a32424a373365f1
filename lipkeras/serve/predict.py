"""TF Serving's REST ``:predict``: request JSON → tensors → the signature → response JSON.

Request formats (as TF Serving's REST API documents them):

* row: ``{"instances": [...]}``: one entry per example, a value when the signature has one input,
  else an object ``{input_name: value}``; answered ``{"predictions": [...]}``, one entry per
  example (a value when the signature has one output, else an object).
* columnar: ``{"inputs": value or {input_name: batched value}}``; answered ``{"outputs": ...}``.
* ``"signature_name"`` picks the signature (default ``serving_default``); a string value may be
  ``{"b64": "..."}`` (binary, e.g. serialized ``tf.Example``s); string outputs whose name ends in
  ``_bytes`` come back as ``{"b64": ...}``, other strings as text.
* ``"output_filter": ["text"]`` (lipkeras extension, the field's name in TF Serving's gRPC
  ``PredictRequest``): only those outputs come back, e.g. a lip reader's text without its
  ``[B, T, vocab]`` log-probabilities. TF Serving's REST API does not know the field.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from lipkeras._quiet import import_tensorflow
from lipkeras.serve.repository import Servable, ServingError

tf = import_tensorflow()

DEFAULT_SIGNATURE = "serving_default"


def parse_json(body: bytes) -> dict:
    if not body:
        raise ServingError(400, "JSON Parse error: The document is empty")
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ServingError(400, f"JSON Parse error: {e}") from None
    if not isinstance(request, dict):
        raise ServingError(400, "JSON Value: the request is not an object")
    return request


def _strings(value: Any, where: str):
    """Nested lists of str / {"b64": ...} → the same nesting of bytes."""
    if isinstance(value, list):
        return [_strings(v, where) for v in value]
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise ServingError(400, f"{where}: a binary value must be {{\"b64\": \"<base64 string>\"}}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise ServingError(400, f"{where}: invalid base64 data") from None
    if isinstance(value, str):
        return value.encode()
    raise ServingError(400, f"{where}: expected a string or {{\"b64\": ...}}, got {type(value).__name__}")


def to_tensor(value: Any, spec, name: str):
    """One input's JSON value → a tensor of the signature's dtype and a compatible shape."""
    try:
        if spec.dtype == tf.string:
            array = np.array(_strings(value, f"input '{name}'"), dtype=object)
        else:
            array = np.array(value, dtype=spec.dtype.as_numpy_dtype)
    except ServingError:
        raise
    except (ValueError, TypeError, OverflowError) as e:
        raise ServingError(400, f"input '{name}': cannot be read as a {spec.dtype.name} tensor "
                                f"(ragged lists or wrong value types): {e}") from None
    if not spec.shape.is_compatible_with(array.shape):
        raise ServingError(400, f"input '{name}': expected shape {_shape(spec.shape)}, got {list(array.shape)}")
    return tf.constant(array, dtype=spec.dtype)


def _shape(shape) -> list:
    return [-1 if d is None else d for d in shape.as_list()] if shape.rank is not None else "unknown"


def _row_inputs(instances: list, specs: dict) -> dict:
    if not isinstance(instances, list) or not instances:
        raise ServingError(400, "'instances' must be a non-empty list")
    names = sorted(specs)
    if all(isinstance(i, dict) and set(i) == set(names) for i in instances) and not (
            len(names) == 1 and specs[names[0]].dtype == tf.string and set(instances[0]) == {"b64"}):
        columns = {n: [i[n] for i in instances] for n in names}
    elif len(names) == 1:
        columns = {names[0]: instances}
    else:
        raise ServingError(400, f"each instance must be an object with the inputs {names}")
    return {n: to_tensor(v, specs[n], n) for n, v in columns.items()}


def _columnar_inputs(inputs: Any, specs: dict) -> dict:
    names = sorted(specs)
    if isinstance(inputs, dict) and not (len(names) == 1 and set(inputs) == {"b64"}):
        missing, extra = set(names) - set(inputs), set(inputs) - set(names)
        if missing or extra:
            raise ServingError(400, f"'inputs' must name exactly the inputs {names}"
                                    + (f"; missing {sorted(missing)}" if missing else "")
                                    + (f"; unknown {sorted(extra)}" if extra else ""))
        return {n: to_tensor(inputs[n], specs[n], n) for n in names}
    if len(names) != 1:
        raise ServingError(400, f"'inputs' must be an object with the inputs {names}")
    return {names[0]: to_tensor(inputs, specs[names[0]], names[0])}


def _json_value(name: str, array: np.ndarray):
    if array.dtype == object:  # strings
        def text(b: bytes):
            if name.endswith("_bytes"):
                return {"b64": base64.b64encode(b).decode()}
            try:
                return b.decode()
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(b).decode()}
        return np.vectorize(text, otypes=[object])(array).tolist() if array.size else array.tolist()
    return array.tolist()


def _output_filter(request: dict, servable: Servable, signature: str) -> set | None:
    """The outputs a request asks for (``None``: all), checked against the signature before computing."""
    if "output_filter" not in request:
        return None
    names = request["output_filter"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ServingError(400, "'output_filter' must be a non-empty list of output names")
    known = set(servable.signatures[signature].structured_outputs)
    unknown = sorted(set(names) - known)
    if unknown:
        raise ServingError(400, f"output_filter: {unknown} not outputs of signature \"{signature}\" "
                                f"(it has {sorted(known)})")
    return set(names)


def predict(servable: Servable, request: dict) -> dict:
    """The response of one ``:predict`` request (raises ``ServingError`` with TF Serving's codes)."""
    signature = request.get("signature_name") or DEFAULT_SIGNATURE
    if signature not in servable.signatures:
        raise ServingError(400, f'Serving signature key "{signature}" not found.')
    if ("instances" in request) == ("inputs" in request):
        raise ServingError(400, "Missing 'inputs' or 'instances' key" if "instances" not in request
                           else "Not both 'inputs' and 'instances' can be present")
    wanted = _output_filter(request, servable, signature)
    specs = servable.input_specs(signature)
    row = "instances" in request
    tensors = _row_inputs(request["instances"], specs) if row else _columnar_inputs(request["inputs"], specs)
    if row:
        sizes = {int(t.shape[0]) for t in tensors.values()}
        if len(sizes) > 1:
            raise ServingError(400, "all inputs must have the same number of instances")
    try:
        outputs = servable.signatures[signature](**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
        message = getattr(e, "message", None) or str(e)
        raise ServingError(400, f"{message.strip().splitlines()[0]}") from None
    outputs = {k: v.numpy() for k, v in outputs.items() if wanted is None or k in wanted}
    if not row:
        if len(outputs) == 1:
            (name, value), = outputs.items()
            return {"outputs": _json_value(name, value)}
        return {"outputs": {k: _json_value(k, v) for k, v in outputs.items()}}
    n = next(iter(tensors.values())).shape[0]
    if any(v.ndim == 0 or v.shape[0] != n for v in outputs.values()):
        raise ServingError(400, "row format needs every output to have the batch size first; use 'inputs'")
    if len(outputs) == 1:
        (name, value), = outputs.items()
        return {"predictions": _json_value(name, value)}
    columns = {k: _json_value(k, v) for k, v in outputs.items()}
    return {"predictions": [{k: columns[k][i] for k in columns} for i in range(n)]}

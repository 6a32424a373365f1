"""The models a server holds: ``BASE/NAME/VERSION/saved_model.pb``, TF Serving's layout.

Each SavedModel is loaded once (``tf.saved_model.load``) and kept referenced for as long as the
server runs: a signature function must not outlive the object it was loaded from. As TF Serving's
default version policy, only the newest version of each model is served unless
``versions="all"``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from lipkeras._quiet import import_tensorflow

tf = import_tensorflow()
log = logging.getLogger("lipkeras.serve")


class ServingError(Exception):
    """An error a client sees as ``{"error": message}`` with this HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def signature_defs(version_dir: Path) -> dict:
    """The SavedModel's ``signature_def`` map as TF Serving's metadata JSON writes it."""
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    out = {}
    for key, sig in proto.meta_graphs[0].signature_def.items():
        try:
            out[key] = json_format.MessageToDict(sig, preserving_proto_field_name=True,
                                                 always_print_fields_with_no_presence=True)
        except TypeError:  # protobuf < 5
            out[key] = json_format.MessageToDict(sig, preserving_proto_field_name=True,
                                                 including_default_value_fields=True)
    return out


@dataclasses.dataclass
class Servable:
    """One loaded version of one model."""

    name: str
    version: int
    path: Path
    module: Any  # the loaded SavedModel: keeps the signatures' resources alive
    signature_defs: dict
    meta: dict  # assets.extra/lipkeras.json ({} for SavedModels not made by lipkeras)

    @property
    def signatures(self):
        return self.module.signatures

    @property
    def kind(self) -> str:
        return self.meta.get("kind", "")

    def input_specs(self, signature: str) -> dict:
        return self.signatures[signature].structured_input_signature[1]


def _versions(model_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in model_dir.iterdir()
                  if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file())


class ModelRepository:
    def __init__(self, base_path: str | Path, versions: str = "latest", names: list[str] | None = None):
        self.base = Path(base_path)
        if not self.base.is_dir():
            raise FileNotFoundError(f"{self.base}: no such model base path")
        self.servables: dict[str, dict[int, Servable]] = {}
        self.failed: dict[str, dict[int, str]] = {}
        for model_dir in sorted(p for p in self.base.iterdir() if p.is_dir()):
            if names and model_dir.name not in names:
                continue
            found = _versions(model_dir)
            for v in (found if versions == "all" else found[-1:]):
                self._load(model_dir.name, v, model_dir / str(v))

    def _load(self, name: str, version: int, path: Path) -> None:
        try:
            module = tf.saved_model.load(str(path))
            meta_file = path / "assets.extra" / "lipkeras.json"
            meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
            servable = Servable(name, version, path, module, signature_defs(path), meta)
        except Exception as e:  # one broken model must not stop the others from serving
            self.failed.setdefault(name, {})[version] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            log.error("%s version %d: not loaded: %s", name, version, self.failed[name][version])
            return
        self.servables.setdefault(name, {})[version] = servable
        log.info("loaded %s version %d (%s) signatures: %s", name, version, servable.kind or "SavedModel",
                 ", ".join(k for k in servable.signatures))

    def names(self) -> list[str]:
        return sorted(self.servables)

    def get(self, name: str, version: int | None = None) -> Servable:
        versions = self.servables.get(name, {})
        if version is None:
            if not versions:
                raise ServingError(404, f"Servable not found for request: Latest({name})")
            return versions[max(versions)]
        if version not in versions:
            raise ServingError(404, f"Servable not found for request: Specific({name}, {version})")
        return versions[version]

    def status(self, name: str, version: int | None = None) -> dict:
        """TF Serving's ``GetModelStatus`` response."""
        loaded, failed = self.servables.get(name, {}), self.failed.get(name, {})
        entries = [(v, "AVAILABLE", "OK", "") for v in loaded] + [(v, "END", "UNKNOWN", m) for v, m in failed.items()]
        if version is not None:
            entries = [e for e in entries if e[0] == version]
        if not entries:
            self.get(name, version)  # raises the 404
        return {"model_version_status": [
            {"version": str(v), "state": state, "status": {"error_code": code, "error_message": message}}
            for v, state, code, message in sorted(entries, reverse=True)]}

    def metadata(self, name: str, version: int | None = None) -> dict:
        """TF Serving's ``GetModelMetadata`` response (signature defs), plus ``lipkeras``: the model's
        ``assets.extra/lipkeras.json`` (a lipkeras extension; TF Serving clients ignore the field)."""
        s = self.get(name, version)
        return {"model_spec": {"name": s.name, "signature_name": "", "version": str(s.version)},
                "metadata": {"signature_def": {"signature_def": s.signature_defs}},
                "lipkeras": s.meta}

"""Export trained models for serving: TF Serving SavedModels (``saved_model``) and TFLite (``tflite``)."""

from lipkeras.export.saved_model import ExportError, export_saved_model

__all__ = ["ExportError", "export_saved_model"]

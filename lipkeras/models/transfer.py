"""Moving pre-trained weights between the stages' models (piece-wise pre-training)."""

from __future__ import annotations


def _relative_paths(layer) -> dict:
    out = {}
    for v in layer.weights:
        path = v.path
        key = path.split(f"{layer.name}/", 1)[1] if f"{layer.name}/" in path else path
        out[key] = v
    return out


def copy_matching_weights(source, target) -> tuple[int, list[str]]:
    """Copy every weight of ``source`` into the ``target`` weight at the same relative path and shape.

    Returns ``(copied, target paths left as initialised)`` — e.g. the cross-attention layers
    that a pre-trained language model does not have.
    """
    src = _relative_paths(source)
    copied, missing = 0, []
    for key, var in _relative_paths(target).items():
        if key in src and tuple(src[key].shape) == tuple(var.shape):
            var.assign(src[key].value)
            copied += 1
        else:
            missing.append(key)
    return copied, missing

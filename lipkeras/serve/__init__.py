"""Serve exported SavedModels over TF Serving's REST API (+ a ``:transcribe`` extension).

``repository`` finds and loads ``BASE/NAME/VERSION/``; ``predict`` maps request JSON to the
signatures and back; ``transcribe`` runs the whole video pipeline; ``app`` routes requests;
``server`` runs it on Waitress.
"""

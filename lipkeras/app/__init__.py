"""``lipkeras app``: a web page (Gradio) that reads the lips and the facial emotion of a video.

``analysis`` holds what the page does (no web library needed: it calls ``LipReader`` and
``EmotionReader`` as ``lipkeras transcribe`` does); ``ui`` builds and serves the Gradio page.
Install the ``app`` extra for Gradio: ``pip install -e ".[app]"``.
"""

"""Shared config plumbing of the functional lip readers (keras-hub style: constructor args are the config)."""

import keras


class ConfigModel(keras.Model):
    """A functional model whose ``self.config`` holds its constructor arguments."""

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self.config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

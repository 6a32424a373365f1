"""``python tests/strategy_worker.py [--logical-cpus N] [--crash-in-epoch E] TRAIN-ARGS...``: run
``python -m lipkeras.train TRAIN-ARGS`` in this fresh process, on N logical CPU devices (they can
only be made before TensorFlow starts, hence a process of its own) and, with ``--crash-in-epoch``,
dying at the end of that epoch (1-based) as if killed, so that a rerun resumes from the backup."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's lipkeras, not an installed one


def main(argv: list[str]) -> int:
    logical_cpus, crash_epoch = 0, 0
    while argv and argv[0] in ("--logical-cpus", "--crash-in-epoch"):
        if argv[0] == "--logical-cpus":
            logical_cpus = int(argv[1])
        else:
            crash_epoch = int(argv[1])
        argv = argv[2:]
    if logical_cpus:
        from lipkeras import _quiet

        tf = _quiet.import_tensorflow()
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    if crash_epoch:
        import keras

        from lipkeras.train import runner

        class Crash(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch + 1 == crash_epoch:
                    raise RuntimeError("killed")

        real = runner.checkpoint_callbacks
        # after the checkpoint callbacks, so that the epoch's backup is written before the 'kill'
        runner.checkpoint_callbacks = lambda *a, **k: [*real(*a, **k), Crash()]
    from lipkeras.train.__main__ import main as train_main

    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

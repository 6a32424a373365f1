import sys

from lipkeras.preprocess.cli import main

if __name__ == "__main__":
    sys.exit(main())

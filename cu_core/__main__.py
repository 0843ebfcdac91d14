"""`python -m cu_core --help`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

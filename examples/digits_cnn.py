"""Digits CNN: see ember/examples/digits.py (the code `make demo` runs)."""
from ember.examples.digits import main

if __name__ == "__main__":
    main()

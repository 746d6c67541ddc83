"""`python -m llmbench`: the same as the `llmbench` console script."""

from llmbench.cli import main

if __name__ == "__main__":
    main()

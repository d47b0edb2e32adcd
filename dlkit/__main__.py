"""`python -m dlkit` runs the command-line interface."""

from dlkit.cli.front import main

if __name__ == "__main__":
    main()

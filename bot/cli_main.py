"""`python -m bot.cli_main`: the same as the `rollbot` command."""

from bot.cli import main

if __name__ == "__main__":
    main()

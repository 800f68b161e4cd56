"""The local chat adapter: the same commands and buttons as Slack, in a terminal.

`rollbot shell` runs `Shell(rollbot, sys.stdin, sys.stdout).run()`; the shell installs a
`ShellNotifier` so cards and thread events (also those of the scheduler) print in the terminal.
"""

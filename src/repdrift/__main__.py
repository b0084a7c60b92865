"""The ``repdrift`` command's entry point (also ``python -m repdrift``): what the process
does around the command (:func:`repdrift.cli.main`).

* It loads the command itself (about a third of a second), so that a Ctrl-C while it
  loads ends with one line, as a later one does, not with a traceback.
* No Ctrl-C is lost, and SIGTERM stops a command as Ctrl-C does
  (:func:`repdrift.interrupts.catch_interrupts`).
* After a Ctrl-C the process ends without tearing the interpreter down
  (:func:`repdrift.interrupts.exit_now`).
"""

import sys


def main() -> None:
    try:
        from repdrift.cli import main as command
        from repdrift.interrupts import catch_interrupts, exit_now, stop_status
    except KeyboardInterrupt:
        print("repdrift: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    catch_interrupts()
    try:
        command()
    except SystemExit as done:
        if done.code == 130:
            exit_now(stop_status())  # 143 after SIGTERM
        raise


if __name__ == "__main__":
    main()

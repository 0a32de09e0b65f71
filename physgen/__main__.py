"""``python -m physgen``: the ``physgen`` command line (:mod:`physgen.cli`)."""

from physgen.cli import main_entry

if __name__ == "__main__":
    main_entry()

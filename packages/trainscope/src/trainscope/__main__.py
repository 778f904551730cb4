"""``python -m trainscope``."""

from trainscope.cli import main

main()

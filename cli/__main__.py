"""`python -m cli ...`, the same as the `seedance` console script."""

from cli.launch import main

main()

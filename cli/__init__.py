"""The `seedance` command line: the top of the pipeline layer (`cli.main:app` is the console script)."""

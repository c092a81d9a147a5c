"""The `seedance` command line: the top of the pipeline layer (`cli.launch:main` is the console
script; the commands are in `cli.main:app`)."""

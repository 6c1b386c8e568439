from qa.cli import cli

cli()

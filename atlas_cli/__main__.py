from atlas_cli.cli.main import run

run()

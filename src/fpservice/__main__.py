from fpservice.cli import run

run()

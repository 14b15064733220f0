from fpservice.cli import main

main()

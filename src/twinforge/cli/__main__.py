from twinforge.cli import main

main()

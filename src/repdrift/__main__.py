from repdrift.cli import main

main()

from localdev.server import main

main()

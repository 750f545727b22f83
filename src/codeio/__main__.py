from codeio.cli.main import main

main()

from assetflow.cli.app import main

main()

from wuye.cli import main

main()

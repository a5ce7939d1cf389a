import sys

from nas.cli.app import main

sys.exit(main())

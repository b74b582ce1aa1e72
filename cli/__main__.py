from mfpde.cli import main

raise SystemExit(main())

from validatiestraat.cli import main

raise SystemExit(main())

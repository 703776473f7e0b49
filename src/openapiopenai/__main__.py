from openapiopenai.cli import main

raise SystemExit(main())

import signal
import sys

from tasks.apps.web.server import main

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # terminate() ends serve_forever cleanly
sys.exit(main())

"""The local dev stack: an HTTP → API Gateway adapter, an Intercom sandbox and embedded SQS.

In Lambda the shared layer's code is on the path (/opt/python); locally it is put there here.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "shared" / "python")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
